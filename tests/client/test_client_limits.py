"""Quota buckets: Workato must never see more calls than its quota allows.

No timed assertions: each task gets its own virtual "now" (a context variable) that its
fake sleep moves forward, so the fake server sees exactly when each request would start.
"""

from __future__ import annotations

import asyncio
import bisect
import contextvars
from typing import Any

import httpx
import pytest

from reconciler.config.desired import RateLimits
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.limits import (
    QuotaLimiters,
    SlidingWindowLimiter,
    shared_limiters,
    window_for_rate,
)

START = 1000.0
_now: contextvars.ContextVar[float] = contextvars.ContextVar("now", default=START)


def task_clock() -> float:
    return _now.get()


async def task_sleep(seconds: float) -> None:
    _now.set(_now.get() + seconds)
    await asyncio.sleep(0)


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, left = 0, 0
    for right, t in enumerate(times):
        while t - times[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best


def test_rates_map_to_windows() -> None:
    assert window_for_rate(60) == (60, 60.0)
    assert window_for_rate(1000) == (1000, 60.0)
    assert window_for_rate(500 / 60) == (500, 3600.0)  # the developer API's 500/hour
    assert window_for_rate(0.5) == (30, 3600.0)


def test_limiter_lets_a_burst_through_then_waits_a_full_window() -> None:
    limiter = SlidingWindowLimiter(3, 60.0, clock=lambda: START, margin=1.0)
    assert [limiter.reserve() for _ in range(7)] == [0, 0, 0, 61, 61, 61, 122]


def test_limiter_frees_slots_as_the_window_slides() -> None:
    now = [START]
    limiter = SlidingWindowLimiter(2, 60.0, clock=lambda: now[0], margin=0.0)
    assert limiter.reserve() == 0
    now[0] += 40
    assert limiter.reserve() == 0
    assert limiter.reserve() == 20  # the first start leaves the window at +60
    now[0] += 30
    assert limiter.reserve() == 30  # the second one at +100


def test_thousands_of_concurrent_calls_never_exceed_the_quota() -> None:
    quota = 60
    arrivals: list[float] = []

    def workato(request: httpx.Request) -> httpx.Response:
        # the fake server enforces the real quota: it would answer 429 above it
        now = task_clock()
        bisect.insort(arrivals, now)
        if bisect.bisect_right(arrivals, now) - bisect.bisect_right(arrivals, now - 60.0) > quota:
            return httpx.Response(429, json={"message": "Too many requests"})
        return httpx.Response(200, json={"id": 1, "name": "m", "status": "working"})

    rates = RateLimits(other=quota)
    settings = ClientSettings(
        base_url="https://limits.example",
        token="t-limits",
        rate_limits=rates,
        limiters=QuotaLimiters.from_rates(rates, clock=task_clock, sleep=task_sleep),
        max_retries=0,
    )

    async def fleet() -> WorkatoClient:
        async with WorkatoClient(settings, transport=httpx.MockTransport(workato)) as client:
            await asyncio.gather(*(client.view_manifest(f"E-c{i}", 1) for i in range(2000)))
            return client

    client = asyncio.run(fleet())
    assert len(arrivals) == 2000
    assert client.stats.rate_limited == 0
    assert most_in_any_window(arrivals, 60.0) == quota
    assert client.stats.limiter_wait > 0


def test_imports_and_statuses_have_their_own_buckets() -> None:
    seen: list[tuple[str, float]] = []

    def workato(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, task_clock()))
        return httpx.Response(200, json={"id": 1, "status": "completed"})

    rates = RateLimits(imports=5, import_status=5, other=1)
    settings = ClientSettings(
        base_url="https://buckets.example",
        token="t-buckets",
        limiters=QuotaLimiters.from_rates(rates, clock=task_clock, sleep=task_sleep),
    )

    async def go() -> None:
        async with WorkatoClient(settings, transport=httpx.MockTransport(workato)) as client:
            await asyncio.gather(
                *(
                    client.start_import(
                        "E-x", 1, b"", restart_recipes=False, include_tags=False,
                        folder_id_for_home_assets=None,
                    )
                    for _ in range(5)
                ),
                *(client.import_status("E-x", 1) for _ in range(5)),
            )  # fmt: skip

    asyncio.run(go())
    # ten calls, none waiting: the "other" bucket (1/min) is not involved
    assert [t for _, t in seen] == [START] * 10


def test_clients_of_one_workspace_share_their_limiters() -> None:
    def settings(token: str, url: str = "https://shared.example") -> ClientSettings:
        return ClientSettings(base_url=url, token=token)

    async def make(s: ClientSettings) -> Any:
        client = WorkatoClient(s)
        await client.aclose()
        return client._limiters

    a = asyncio.run(make(settings("token-a")))
    assert asyncio.run(make(settings("token-a"))) is a
    assert asyncio.run(make(settings("token-a", "https://shared.example/"))) is a
    assert asyncio.run(make(settings("token-b"))) is not a
    assert asyncio.run(make(settings("token-a", "https://other.example"))) is not a
    assert shared_limiters("https://shared.example", "x", RateLimits()) is not a


# ---- a belief corrected by Workato: 429s, Retry-After, fixed windows ------------------


class _Clock:
    """One shared fake time for a limiter and its sleeps (the wall clock is the same)."""

    def __init__(self, start: float = 7200.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def _limiter(clock: _Clock, limit: int, window: float = 60.0, **kw: Any) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(
        limit, window, clock=clock, sleep=clock.sleep, wall=clock, margin=0.0, **kw
    )


def _starts(limiter: SlidingWindowLimiter, count: int) -> list[Any]:
    async def go() -> list[Any]:
        turns = []
        for _ in range(count):
            turn = await limiter.turn()
            await turn.start()
            turn.answered()  # as far as the test goes: only the one it throttles is refused
            turns.append(turn)
        return turns

    return asyncio.run(go())


def test_a_429_teaches_the_bucket_the_servers_rate_at_once() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)  # believes 60/min; the server allows 30
    turns = _starts(limiter, 31)
    wait = limiter.throttled(turns[-1], None, backoff=0.5)
    assert limiter.limit == 30  # the 30 the server accepted in the window
    # the refused start did not count: the next one fits when the first leaves the window
    assert wait == pytest.approx(turns[0].at + 60 - clock.now)
    assert limiter.reserve() == pytest.approx(wait)


def test_retry_after_closes_the_whole_bucket_for_every_caller() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 1000)
    turns = _starts(limiter, 5)
    limiter.throttled(turns[-1], 120.0, backoff=0.5)
    assert [limiter.reserve() for _ in range(3)] == [120.0, 120.0, 120.0]


def test_a_429_no_count_explains_halves_and_backs_off_then_probes() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 8)
    first = _starts(limiter, 1)[0]  # refused at once: another client spends the quota
    assert limiter.throttled(first, None, backoff=1.0) == 1.0
    assert limiter.limit == 4
    clock.now += 1.0
    probe = _starts(limiter, 1)[0]  # one request probes; refused again: twice as long
    assert limiter.throttled(probe, None, backoff=1.0) == 2.0 and limiter.limit == 2
    waits: list[float] = []
    for _ in range(8):  # doubling, but never longer than one window
        clock.now += waits[-1] if waits else 2.0
        turn = _starts(limiter, 1)[0]
        waits.append(limiter.throttled(turn, None, backoff=1.0))
    assert waits == [4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0] and limiter.limit == 1


def test_after_a_transient_429_the_rate_doubles_back_then_probes_gently() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    first = _starts(limiter, 3)[-1]  # a 429 while far below our pace: a hiccup?
    limiter.throttled(first, None, backoff=0.5)
    assert limiter.limit == 2  # believed, for now
    seen: list[int] = []
    for _ in range(5):
        clock.now += 60.0  # a clean window each
        limiter.reserve()
        seen.append(limiter.limit)
    assert seen == [4, 8, 16, 32, 60]  # doubling back to where it was


def test_requests_in_flight_when_the_first_429_came_change_nothing_more() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    turns = _starts(limiter, 34)  # 31..34 were all sent before any answer came back
    limiter.throttled(turns[30], None, backoff=0.5)
    for turn in turns[31:]:
        limiter.throttled(turn, None, backoff=0.5)
    assert limiter.limit == 30 and limiter.throttles == 4


def test_the_rate_climbs_back_after_clean_windows() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    turns = _starts(limiter, 31)
    limiter.throttled(turns[-1], None, backoff=0.5)
    assert limiter.limit == 30
    clock.now += 61.0
    turn = _starts(limiter, 30)[-1]  # a second 429 soon after: the server's quota speaks
    limiter.throttled(turn, None, backoff=0.5)
    assert limiter.limit == 29
    clock.now += 60.0  # a clean window
    limiter.reserve()
    assert limiter.limit == 29
    clock.now += 60.0  # every second one: + a twentieth of itself, at least one
    limiter.reserve()
    assert limiter.limit == 30
    clock.now += 60 * 60.0
    limiter.reserve()
    assert limiter.limit == 60  # never above the configured quota


def test_a_fixed_hourly_window_resets_at_the_top_of_the_hour() -> None:
    clock = _Clock(start=3 * 3600 + 3000)  # 10 minutes before the hour
    limiter = _limiter(clock, 3, window=3600.0, fixed=True)
    assert [limiter.reserve() for _ in range(5)] == [0, 0, 0, 600.0, 600.0]


def test_a_429_is_told_to_listeners_with_bucket_reason_and_time() -> None:
    clock = _Clock()
    rates = RateLimits(imports=10)
    limiters = QuotaLimiters.from_rates(rates, clock=clock, sleep=clock.sleep)
    heard: list[Any] = []
    limiters.listeners.append(heard.append)
    turn = _starts(limiters.imports, 1)[0]
    limiters.imports.throttled(turn, 30.0, backoff=0.5)
    [event] = heard
    assert (event.bucket, event.reason) == ("imports", "429 with Retry-After 30 s")
    assert event.seconds == pytest.approx(30.0)

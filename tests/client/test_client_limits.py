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


def test_no_more_requests_in_flight_than_pooled_connections() -> None:
    """A fleet's worth of calls allowed at once (a quota with room for all of them) waits
    in the client, not in httpcore's pool, whose cost grows with its queue times its
    connections: at most MAX_IN_FLIGHT requests are with the server at any moment."""
    from reconciler.workato.client import MAX_IN_FLIGHT

    with_server = most = 0

    async def workato(request: httpx.Request) -> httpx.Response:
        nonlocal with_server, most
        with_server += 1
        most = max(most, with_server)
        await asyncio.sleep(0.001)
        with_server -= 1
        return httpx.Response(200, json={"id": 1, "name": "m", "status": "working"})

    rates = RateLimits(other=100_000)
    settings = ClientSettings(
        base_url="https://in-flight.example",
        token="t-in-flight",
        rate_limits=rates,
        limiters=QuotaLimiters.from_rates(rates),
        max_retries=0,
    )

    async def fleet() -> None:
        async with WorkatoClient(settings, transport=httpx.MockTransport(workato)) as client:
            await asyncio.gather(*(client.view_manifest(f"E-c{i}", 1) for i in range(500)))

    asyncio.run(fleet())
    assert most == MAX_IN_FLIGHT

"""Quota buckets: Workato must never see more calls than its quota allows.

No timed assertions: each task gets its own virtual "now" (a context variable) that its
fake sleep moves forward, so the fake server sees exactly when each request would start.
"""

from __future__ import annotations

import asyncio
import bisect
import contextvars
from collections import Counter
from typing import Any

import httpx
import pytest

from reconciler.config.desired import RateLimits
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.limits import (
    PROBE_POLL,
    QuotaLimiters,
    SlidingWindowLimiter,
    in_flight_for,
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


def settings_of(base_url: str, rates: RateLimits) -> ClientSettings:
    """A client of `base_url` with its own limiters at `rates` (real time), no retries."""
    return ClientSettings(
        base_url=base_url,
        token=f"t-{base_url}",
        rate_limits=rates,
        limiters=QuotaLimiters.from_rates(rates),
        max_retries=0,
    )


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

    settings = settings_of("https://in-flight.example", RateLimits(other=100_000))

    async def fleet() -> None:
        async with WorkatoClient(settings, transport=httpx.MockTransport(workato)) as client:
            await asyncio.gather(*(client.view_manifest(f"E-c{i}", 1) for i in range(500)))

    asyncio.run(fleet())
    assert most == MAX_IN_FLIGHT


def test_a_scarce_bucket_lets_only_a_few_requests_wait_for_their_answers() -> None:
    """A first apply's 20 manifest creates go out a few at a time, not 16 at once: when a
    server stricter than the belief refuses the first one, few are already on their way
    behind it, each to draw its own 429. A bucket of a thousand a minute is bound by the
    client's connections only."""
    from reconciler.workato.client import MAX_IN_FLIGHT

    assert in_flight_for(60, 60.0) == 5 and in_flight_for(1000, 60.0) > MAX_IN_FLIGHT
    assert in_flight_for(500, 3600.0) == 2  # an hourly quota: at least two
    with_server: Counter[str] = Counter()
    most: Counter[str] = Counter()

    async def workato(request: httpx.Request) -> httpx.Response:
        posted = request.method == "POST" and request.url.path.endswith("/imports")
        kind = "import" if posted else "other"
        with_server[kind] += 1
        most[kind] = max(most[kind], with_server[kind])
        await asyncio.sleep(0.005)
        with_server[kind] -= 1
        if kind == "import":
            return httpx.Response(200, json={"id": 7, "status": "in_progress"})
        return httpx.Response(200, json={"id": 1, "name": "m", "status": "working"})

    # Workato's published quotas: 60 "other" calls a minute
    settings = settings_of("https://scarce.example", RateLimits())

    async def apply() -> None:
        async with WorkatoClient(settings, transport=httpx.MockTransport(workato)) as client:
            await asyncio.gather(
                *(client.view_manifest("E-template", i) for i in range(20)),
                *(
                    client.start_import(
                        f"E-c{i}",
                        50_000 + i,
                        b"zip",
                        restart_recipes=False,
                        include_tags=False,
                        folder_id_for_home_assets=None,
                    )
                    for i in range(40)
                ),
            )

    asyncio.run(apply())
    assert most["other"] == in_flight_for(60, 60.0)
    assert most["import"] > in_flight_for(60, 60.0)


def test_a_request_of_a_scarce_bucket_waits_for_an_answer_not_a_window() -> None:
    clock = _Clock()
    limiters = QuotaLimiters.from_rates(RateLimits(), clock=clock, sleep=clock.sleep)
    other = limiters.other
    assert other.in_flight == 5

    async def start() -> Any:
        turn = await other.turn()
        await turn.start()
        return turn

    async def go() -> list[Any]:
        return [await start() for _ in range(5)]

    turns = asyncio.run(go())
    assert other.reserve() == pytest.approx(PROBE_POLL)  # looks again shortly
    turns[0].answered()
    assert other.reserve() == 0.0  # one answer frees one place, within the same window


def test_over_http_each_request_in_flight_has_a_connection_of_its_own_and_keeps_it() -> None:
    """Over real HTTP the client keeps MAX_IN_FLIGHT connections ("lanes", one request
    each at a time) and reuses them: 300 calls at once open no more connections than
    that, and use every one of them."""
    from reconciler.workato.client import MAX_IN_FLIGHT

    peers: set[tuple[str, int]] = set()
    with_server = most = 0
    body = b'{"id": 1, "name": "m", "status": "working"}'

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal with_server, most
        peers.add(writer.get_extra_info("peername"))
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                with_server += 1
                most = max(most, with_server)
                await asyncio.sleep(0.002)
                with_server -= 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except asyncio.IncompleteReadError:  # the client closed its connection
            pass
        finally:
            writer.close()

    async def fleet() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        settings = settings_of(f"http://127.0.0.1:{port}", RateLimits(other=100_000))
        async with server, WorkatoClient(settings) as client:
            views = await asyncio.gather(*(client.view_manifest(f"E-c{i}", 1) for i in range(300)))
        assert len(views) == 300

    asyncio.run(fleet())
    assert most == MAX_IN_FLIGHT
    assert len(peers) == MAX_IN_FLIGHT


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
            turns.append(turn)
        for turn in turns[:-1]:
            turn.answered()  # the last one's answer is the test's: answered, lost or 429
        return turns

    return asyncio.run(go())


def test_one_429_with_a_short_retry_after_only_waits_then_goes_on_at_its_rate() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 100_000)  # a generous belief; one 429 from a hiccup
    turns = _starts(limiter, 6)
    assert limiter.throttled(turns[-1], 1.0, backoff=0.5) == 1.0
    assert limiter.limit == 100_000 and limiter.learned is None  # nothing to remember
    clock.now += 1.0
    probe = _starts(limiter, 1)[0]  # after the wait, one request probes; it passes
    probe.answered()
    assert [limiter.reserve() for _ in range(50)] == [0.0] * 50  # not a window's wait


def test_the_probe_holds_the_others_back_until_it_is_answered() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    limiter.throttled(_starts(limiter, 3)[-1], 2.0, backoff=0.5)
    assert limiter.reserve() == 2.0  # the whole bucket waits out the Retry-After
    clock.now += 2.0
    probe = _starts(limiter, 1)[0]
    assert limiter.reserve() == pytest.approx(PROBE_POLL)  # looks again shortly
    probe.answered()
    assert limiter.reserve() == 0.0


def test_after_the_probe_the_requests_in_flight_double_each_round_trip() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    limiter.throttled(_starts(limiter, 3)[-1], 1.0, backoff=0.5)
    clock.now += 1.0

    async def round_trip() -> int:
        """Start callers until the bucket holds the next one back; answer them all."""
        sent = []
        while limiter.reserve() == 0.0:
            turn = await limiter.turn()
            await turn.start()
            sent.append(turn)
        for turn in sent:
            turn.answered()
        return len(sent)

    async def go() -> list[int]:
        return [await round_trip() for _ in range(4)]

    # a quota that is really lower meets at most a round trip's requests, not a burst
    assert asyncio.run(go()) == [1, 2, 4, 8]
    clock.now += 60.0  # a window without a 429: the bucket goes on as before
    assert [limiter.reserve() for _ in range(20)] == [0.0] * 20


def test_a_probe_without_an_answer_lets_the_next_start_probe() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    limiter.throttled(_starts(limiter, 1)[0], 1.0, backoff=0.5)
    clock.now += 1.0
    _starts(limiter, 1)[0].lost()  # a dropped connection
    second = _starts(limiter, 1)[0]
    assert limiter.reserve() == pytest.approx(PROBE_POLL)  # the second one is the probe
    second.answered()
    assert limiter.reserve() == 0.0


def test_a_second_429_soon_after_teaches_the_servers_rate() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)  # believes 60/min; the server allows 30
    turns = _starts(limiter, 31)
    assert limiter.throttled(turns[-1], None, backoff=0.5) == 0.5  # back off, then probe
    assert limiter.limit == 60
    clock.now += 0.5
    probe = _starts(limiter, 1)[0]
    wait = limiter.throttled(probe, None, backoff=0.5)  # the probe is refused too
    assert limiter.limit == 30  # the 30 the server accepted in the window
    assert limiter.learned == (30, 60.0)
    # the refused starts did not count: the next one fits when the first leaves the window
    assert wait == pytest.approx(turns[0].at + 60 - clock.now)
    assert limiter.reserve() == pytest.approx(wait)


def test_a_429_after_a_quiet_spell_only_waits_again() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    limiter.throttled(_starts(limiter, 5)[-1], 1.0, backoff=0.5)
    clock.now += 1.0
    _starts(limiter, 1)[0].answered()
    clock.now += 11 * 60.0  # more than ten windows without a 429
    limiter.throttled(_starts(limiter, 5)[-1], 1.0, backoff=0.5)
    assert limiter.limit == 60
    clock.now += 1.0
    probe = _starts(limiter, 1)[0]
    limiter.throttled(probe, 1.0, backoff=0.5)  # but this one follows it at once
    assert limiter.limit == 4


def test_a_retry_after_longer_than_the_window_teaches_an_hourly_window_at_once() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 1000)  # believes 1,000/min; the server allows 100 an hour
    turns = _starts(limiter, 101)
    assert limiter.throttled(turns[-1], 3000.0, backoff=0.5) == 3000.0
    assert limiter.limit == 100 and limiter.learned == (100, 3600.0)


def test_a_retry_after_that_matches_the_count_teaches_the_rate_at_once() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 1000)  # believes 1,000/min; the server allows 100
    turns = _starts(limiter, 100)
    clock.now += 10.0
    refused = _starts(limiter, 1)[0]
    for turn in turns:
        turn.answered()
    # "retry in 50 s": just when the first of the 100 leaves the window
    assert limiter.throttled(refused, 50.0, backoff=0.5) == 50.0
    assert limiter.limit == 100 and limiter.learned == (100, 60.0)


def test_retry_after_closes_the_whole_bucket_for_every_caller() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 1000)
    turns = _starts(limiter, 5)
    limiter.throttled(turns[-1], 30.0, backoff=0.5)
    assert [limiter.reserve() for _ in range(3)] == [30.0, 30.0, 30.0]
    assert limiter.limit == 1000


def test_a_429_no_count_explains_halves_and_backs_off_then_probes() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 8)
    first = _starts(limiter, 1)[0]  # refused at once: another client spends the quota
    assert limiter.throttled(first, None, backoff=1.0) == 1.0
    assert limiter.limit == 8  # one 429: wait and see
    clock.now += 1.0
    probe = _starts(limiter, 1)[0]  # one request probes; refused again: twice as long
    assert limiter.throttled(probe, None, backoff=1.0) == 2.0 and limiter.limit == 4
    waits: list[float] = []
    for _ in range(8):  # doubling, but never longer than one window
        clock.now += waits[-1] if waits else 2.0
        turn = _starts(limiter, 1)[0]
        waits.append(limiter.throttled(turn, None, backoff=1.0))
    assert waits == [4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0] and limiter.limit == 1
    assert limiter.learned is None  # a halving is a guess, never remembered


def test_a_halved_rate_doubles_back_after_clean_windows() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    limiter.throttled(_starts(limiter, 1)[0], None, backoff=0.5)
    for _ in range(2):  # two probes refused: nothing the server accepted explains them
        clock.now = limiter.blocked_until
        limiter.throttled(_starts(limiter, 1)[0], None, backoff=0.5)
    assert limiter.limit == 15
    clock.now = limiter.blocked_until
    _starts(limiter, 1)[0].answered()  # the next probe passes
    seen: list[int] = []
    for _ in range(3):
        clock.now += 60.0  # a clean window each
        limiter.reserve()
        seen.append(limiter.limit)
    assert seen == [30, 60, 60]  # doubling back to where it was


def test_requests_in_flight_when_a_429_came_change_nothing_more() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    turns = _starts(limiter, 34)  # 31..34 were all sent before any answer came back
    limiter.throttled(turns[30], None, backoff=0.5)
    for turn in turns[31:]:
        limiter.throttled(turn, None, backoff=0.5)
    assert limiter.limit == 60 and limiter.throttles == 4  # no second 429 of its own
    clock.now = limiter.blocked_until
    limiter.throttled(_starts(limiter, 1)[0], None, backoff=0.5)  # the probe's is one
    assert limiter.limit == 30


def test_the_rate_climbs_back_after_clean_windows() -> None:
    clock = _Clock()
    limiter = _limiter(clock, 60)
    turns = _starts(limiter, 31)
    limiter.throttled(turns[-1], None, backoff=0.5)
    clock.now = limiter.blocked_until
    limiter.throttled(_starts(limiter, 1)[0], None, backoff=0.5)
    assert limiter.limit == 30
    clock.now += 61.0
    turn = _starts(limiter, 30)[-1]  # another 429 soon after: the server's quota speaks
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

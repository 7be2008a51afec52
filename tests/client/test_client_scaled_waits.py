"""Waits under a time scale: Retry-After is in the server's (simulated) seconds, and the
quota limiter counts a start when the request leaves, however late a busy event loop
gets there.

Time is fake (conftest `FakeTime`, or a clock/sleep pair of the test's own), so every wait
is asserted exactly and nothing depends on the speed of the machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.config.desired import RateLimits
from reconciler.errors import RateLimitedError
from reconciler.simulator import Simulator
from reconciler.simulator.transport import SimTransport
from reconciler.workato.client import WorkatoClient
from reconciler.workato.limits import SlidingWindowLimiter

MakeClient = Callable[..., WorkatoClient]
VIEW = {"id": 7, "name": "crm-sync", "status": "working"}
GENEROUS = RateLimits(other=100_000.0, imports=100_000.0, import_status=100_000.0)


def _once_429(retry_after: str) -> Callable[[httpx.Request], httpx.Response]:
    answers = [httpx.Response(429, headers={"Retry-After": retry_after})]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json=VIEW)

    return handler


async def _view(client: WorkatoClient) -> Any:
    async with client:
        return await client.view_manifest("E-template", 7)


@pytest.mark.parametrize(("scale", "waited"), [(1.0, 60.0), (60.0, 1.0), (120.0, 0.5)])
def test_retry_after_is_divided_by_the_time_scale(
    make_client: MakeClient, fake_time: Any, scale: float, waited: float
) -> None:
    rates = dataclasses.replace(GENEROUS, time_scale=scale)
    asyncio.run(_view(make_client(_once_429("60"), rate_limits=rates)))
    assert fake_time.sleeps == [waited]


def test_a_scaled_retry_after_is_still_capped(make_client: MakeClient, fake_time: Any) -> None:
    rates = dataclasses.replace(GENEROUS, time_scale=2.0)
    client = make_client(_once_429("6000"), rate_limits=rates)
    asyncio.run(_view(client))
    assert fake_time.sleeps == [1830.0]  # an hour and a minute of the server's, at most


def test_backoff_without_retry_after_is_not_scaled(make_client: MakeClient, fake_time: Any) -> None:
    rates = dataclasses.replace(GENEROUS, time_scale=60.0)
    answers = [httpx.Response(503)]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json=VIEW)

    asyncio.run(_view(make_client(handler, rate_limits=rates)))
    assert fake_time.sleeps == [0.375]  # equal jitter (rand 0.5) of the 0.5 s base


def test_a_simulator_at_60x_makes_the_client_wait_a_real_second_at_most(
    tmp_path: Path, make_client: MakeClient, fake_time: Any
) -> None:
    sim = Simulator(tmp_path / "sim")
    sim.seed_demo()
    sim.set_time_scale(60.0)
    sim.set_rate_limits(other=1)  # one call per simulated minute (one real second)
    # the simulator's clock is real and ours fake: it answers 429 until the budget of
    # 120 simulated seconds (2 of ours) is spent
    rates = dataclasses.replace(GENEROUS, time_scale=60.0, max_wait=120.0)
    client = make_client(
        transport=SimTransport(sim.directory),
        base_url="http://workato.sim",
        token="demo-token",
        rate_limits=rates,
        max_retries=1,
    )

    async def two_views() -> None:
        async with client:
            await client.folder_assets("E-template", 110)
            await client.folder_assets("E-template", 110)  # 429, retried at once (fake)

    with pytest.raises(RateLimitedError):
        asyncio.run(two_views())
    # Retry-After said up to 60 simulated seconds: at most one of our seconds (plus the
    # window margin of a tenth), each time
    assert fake_time.sleeps and sum(fake_time.sleeps) <= 2.0
    assert all(1 / 60 <= s <= 1.1 + 1e-6 for s in fake_time.sleeps), fake_time.sleeps


# ---- the limiter: a start counts when it is made, not when it was planned -------------


class LateSleeper:
    """A clock whose sleeps overrun by `late` seconds, as on a busy event loop."""

    def __init__(self, late: float = 0.0) -> None:
        self.now = 1000.0
        self.late = late
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.late


def _limiter(time: LateSleeper, limit: int, window: float) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(limit, window, clock=time.clock, sleep=time.sleep, margin=0.0)


def test_on_time_wake_ups_leave_the_window_as_it_is() -> None:
    time = LateSleeper(late=0.0)
    limiter = _limiter(time, 1, 100.0)
    assert asyncio.run(limiter.acquire()) == 0
    assert asyncio.run(limiter.acquire()) == 100.0
    assert limiter.reserve() == 100.0


def test_a_late_wake_up_counts_the_window_from_the_real_start() -> None:
    time = LateSleeper(late=3.0)
    limiter = _limiter(time, 1, 100.0)
    asyncio.run(limiter.acquire())  # starts at 1000
    assert asyncio.run(limiter.acquire()) == 100.0  # due at 1100, woke (and started) at 1103
    assert time.now == 1103.0
    # the next start keeps a whole window after 1103, the start the server saw
    assert limiter.reserve() == pytest.approx(100.0)  # 1203 - 1103


def test_a_request_that_leaves_late_holds_back_the_next_one() -> None:
    """Planned at 1000 but sent at 1030 (the loop was busy): a caller planned meanwhile for
    1100 must wait until 1130, or the server would count two starts within 100 s."""
    time = LateSleeper()
    limiter = _limiter(time, 1, 100.0)

    async def go() -> list[float]:
        first = await limiter.turn()  # planned for now (1000), not yet sent
        second = await limiter.turn()  # planned for 1100; sleeps till then
        assert time.now == 1100.0 and time.sleeps == [100.0]
        time.now = 1030.0  # (the fake clock cannot run two tasks: replay the late send)
        await first.start()
        time.now = 1100.0
        await second.start()  # the window from 1030 is still full: it waits 30 s more
        return [first.at, second.at]

    assert asyncio.run(go()) == [1030.0, 1130.0]
    assert time.sleeps == [100.0, 30.0]


def test_started_requests_fill_the_window_in_the_order_they_leave() -> None:
    time = LateSleeper()
    limiter = _limiter(time, 2, 60.0)

    async def go() -> list[float]:
        turns = [await limiter.turn() for _ in range(2)]  # both planned for 1000
        time.now = 1010.0
        for turn in turns:
            await turn.start()
        third = await limiter.turn()  # planned from the real starts: 1070
        await third.start()
        return [t.at for t in [*turns, third]]

    assert asyncio.run(go()) == [1010.0, 1010.0, 1070.0]


def test_start_is_taken_once() -> None:
    time = LateSleeper()
    limiter = _limiter(time, 1, 60.0)

    async def go() -> float:
        turn = await limiter.turn()
        await turn.start()
        await turn.start()  # httpcore may report a retried send twice: one start counts
        return limiter.reserve()

    assert asyncio.run(go()) == 60.0


def test_a_start_counts_from_when_the_request_was_written() -> None:
    """httpcore reports the headers written (`sent`) a little after the start was taken:
    the server counts that later moment, so the next window opens from it."""
    time = LateSleeper()
    limiter = _limiter(time, 1, 100.0)

    async def go() -> float:
        first = await limiter.turn()
        await first.start()  # at 1000
        time.now = 1000.04  # the event loop ran other work before the write
        first.sent()
        time.now = 1000.05
        return limiter.reserve()

    assert asyncio.run(go()) == pytest.approx(100.0 - 0.01)  # 1100.04 - 1000.05

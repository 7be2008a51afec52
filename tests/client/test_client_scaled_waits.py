"""Waits under a time scale: Retry-After is in the server's (simulated) seconds, and the
quota limiter keeps later starts apart by how late a busy event loop woke a caller.

Time is fake (conftest `FakeTime`, or a clock/sleep pair of the test's own), so every wait
is asserted exactly and nothing depends on the speed of the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.desired import RateLimits
from reconciler.errors import RateLimitedError
from reconciler.simulator import Simulator
from reconciler.simulator.transport import SimTransport
from reconciler.workato.client import WorkatoClient
from reconciler.workato.limits import SlidingWindowLimiter

MakeClient = Callable[..., WorkatoClient]
VIEW = {"id": 7, "name": "crm-sync", "status": "working"}
GENEROUS = {"other": 100_000.0, "imports": 100_000.0, "import_status": 100_000.0}


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
    rates = RateLimits(**GENEROUS, time_scale=scale)
    asyncio.run(_view(make_client(_once_429("60"), rate_limits=rates)))
    assert fake_time.sleeps == [waited]


def test_a_scaled_retry_after_is_still_capped(make_client: MakeClient, fake_time: Any) -> None:
    rates = RateLimits(**GENEROUS, time_scale=2.0)
    client = make_client(_once_429("6000"), rate_limits=rates, retry_after_max=300.0)
    asyncio.run(_view(client))
    assert fake_time.sleeps == [300.0]  # 3000 of our seconds, capped


def test_backoff_without_retry_after_is_not_scaled(make_client: MakeClient, fake_time: Any) -> None:
    rates = RateLimits(**GENEROUS, time_scale=60.0)
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
    rates = RateLimits(**GENEROUS, time_scale=60.0)
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
    # Retry-After said up to 60 simulated seconds: at most one of our seconds
    assert len(fake_time.sleeps) == 1
    assert 1 / 60 <= fake_time.sleeps[0] <= 1.0


# ---- the limiter: late wake-ups widen its window, up to 5% of it ------------------------


class LateSleeper:
    """A clock whose sleeps overrun by `late` seconds, as on a busy event loop."""

    def __init__(self, late: float = 0.0) -> None:
        self.now = 1000.0
        self.late = late

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late


def _limiter(time: LateSleeper, limit: int, window: float) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(limit, window, clock=time.clock, sleep=time.sleep, margin=0.0)


def test_on_time_wake_ups_leave_the_window_as_it_is() -> None:
    time = LateSleeper(late=0.0)
    limiter = _limiter(time, 1, 100.0)
    assert asyncio.run(limiter.acquire()) == 0
    assert asyncio.run(limiter.acquire()) == 100.0
    assert limiter.reserve() == 100.0


def test_a_late_wake_up_keeps_later_starts_that_much_further_apart() -> None:
    time = LateSleeper(late=3.0)
    limiter = _limiter(time, 1, 100.0)
    asyncio.run(limiter.acquire())  # starts at 1000
    assert asyncio.run(limiter.acquire()) == 100.0  # due at 1100, woke at 1103
    assert time.now == 1103.0
    # the next start keeps 100 s + 3 s after the last reserved slot (1100)
    assert limiter.reserve() == pytest.approx(100.0)  # 1203 - 1103


def test_late_widening_is_capped_at_five_percent_of_the_window() -> None:
    time = LateSleeper(late=40.0)
    limiter = _limiter(time, 1, 100.0)
    asyncio.run(limiter.acquire())
    asyncio.run(limiter.acquire())  # due at 1100, woke at 1140: 40 s late
    # next start at 1100 + 100 + 5 (5% of 100, not + 40), from now = 1140
    assert limiter.reserve() == pytest.approx(65.0)


def test_late_widening_is_a_share_of_the_scaled_window() -> None:
    # at 60x a one-minute window lasts one second: the cap is 50 ms, not 3 s
    time = LateSleeper(late=0.5)
    limiter = SlidingWindowLimiter.per_minute(
        1, clock=time.clock, sleep=time.sleep, time_scale=60.0
    )
    asyncio.run(limiter.acquire())
    waited = asyncio.run(limiter.acquire())
    assert waited == pytest.approx(limiter.window)
    due = 1000.0 + limiter.window
    assert time.now == pytest.approx(due + 0.5)
    assert limiter.reserve() == pytest.approx(due + limiter.window + 0.05 - time.now)

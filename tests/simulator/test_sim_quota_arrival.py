"""The simulator's quotas count requests when they arrive, and Retry-After speaks simulated
seconds: a client spacing its calls exactly at the quota must never be told 429, however
late a busy simulator gets round to handling them.

The limiter is driven with a fake clock (no real time passes); the Engine tests pass
explicit arrival times, so nothing depends on how fast this machine is.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import pytest

from reconciler.simulator import Simulator
from reconciler.simulator.clock import Clock
from reconciler.simulator.engine import Engine
from reconciler.simulator.faults import RateLimiter
from reconciler.simulator.messages import Request


class FakeClock(Clock):
    """Simulated time whose real "now" moves only when the test says so."""

    def __init__(self, time_scale: float = 1.0, now: float = 1000.0) -> None:
        super().__init__(time_scale)
        self.at = now

    def now(self) -> float:
        return self.at


def test_requests_spaced_exactly_at_the_quota_are_never_limited() -> None:
    clock = FakeClock(time_scale=60.0)  # a 60 s window lasts 1 real second
    limiter = RateLimiter()
    # 4 per window, one every 0.25 real seconds (binary fractions: no rounding)
    for i in range(40):
        clock.at = 1000.0 + i * 0.25
        assert limiter.check("other", 4, 60.0, clock) is None, i


def test_arrivals_count_not_the_late_moment_they_are_handled() -> None:
    clock = FakeClock(time_scale=60.0)
    limiter = RateLimiter()
    arrivals = [1000.0 + i * 0.25 for i in range(12)]
    # a busy simulator handles all twelve in one bunch, a little after the last arrived
    clock.at = arrivals[-1] + 0.5
    assert [limiter.check("other", 4, 60.0, clock, at) for at in arrivals] == [None] * 12


def test_slightly_out_of_order_handling_of_spaced_arrivals_is_not_limited() -> None:
    clock = FakeClock(time_scale=60.0)
    limiter = RateLimiter()
    arrivals = [1000.0 + i * 0.25 for i in range(12)]
    handled = arrivals[:]
    # neighbours swapped: each pair is handled in reverse order
    for i in range(0, len(handled) - 1, 2):
        handled[i], handled[i + 1] = handled[i + 1], handled[i]
    clock.at = arrivals[-1] + 0.1
    results = [limiter.check("other", 8, 60.0, clock, at) for at in handled]
    assert results == [None] * 12


def test_a_burst_over_the_quota_is_limited_until_the_oldest_leaves_the_window() -> None:
    clock = FakeClock(time_scale=60.0)
    limiter = RateLimiter()
    clock.at = 1000.0
    assert [limiter.check("other", 3, 60.0, clock) for _ in range(3)] == [None] * 3
    assert limiter.check("other", 3, 60.0, clock) == 1.0  # real seconds: 60 simulated
    clock.at = 1000.5
    assert limiter.check("other", 3, 60.0, clock) == 0.5
    clock.at = 1001.0  # the burst has left the window
    assert limiter.check("other", 3, 60.0, clock) is None


def test_a_burst_that_arrived_together_is_limited_even_when_handled_apart() -> None:
    clock = FakeClock(time_scale=60.0)
    limiter = RateLimiter()
    answers = []
    for i in range(5):
        clock.at = 1000.0 + i * 0.1  # handled over half a second
        answers.append(limiter.check("other", 3, 60.0, clock, 1000.0))
    assert answers[:3] == [None] * 3
    assert answers[3] is not None and answers[4] is not None


def test_a_burst_handled_in_reverse_arrival_order_is_limited_all_the_same() -> None:
    """Counting only the hits that arrived before each one would let all four through:
    the first handled arrived last, and each later-handled one arrived earlier still."""
    clock = FakeClock(time_scale=60.0)
    limiter = RateLimiter()
    clock.at = 1000.5
    arrivals = [1000.0, 1000.1, 1000.2, 1000.3]
    answers = [limiter.check("other", 3, 60.0, clock, at) for at in reversed(arrivals)]
    assert answers[:3] == [None] * 3
    assert answers[3] == pytest.approx(1.1)  # a retry fits once 1000.1 is a window old


def test_spaced_arrivals_handled_in_any_order_are_not_limited() -> None:
    clock = FakeClock(time_scale=60.0)
    limiter = RateLimiter()
    arrivals = [1000.0 + i * 0.26 for i in range(16)]  # 4 per simulated minute, a bit apart
    handled = arrivals[:]
    random.Random(7).shuffle(handled)
    clock.at = arrivals[-1] + 0.5
    assert [limiter.check("other", 4, 60.0, clock, at) for at in handled] == [None] * 16


def _request(arrived: float) -> Request:
    return Request(
        "GET",
        "/api/managed_users/E-template/export_manifests/folder_assets",
        {"folder_id": "110"},
        {"authorization": "Bearer demo-token"},
        arrived=arrived,
    )


def _burst(tmp_path: Path, time_scale: float) -> list[tuple[int, str | None]]:
    sim = Simulator(tmp_path / f"sim-{time_scale:g}")
    sim.seed_demo()
    sim.set_time_scale(time_scale)
    sim.set_rate_limits(other=2)
    engine = Engine(sim.directory)
    # all three arrived at once (a whole second: exact sums), so the wait is one window
    arrived = float(math.floor(time.monotonic()))
    replies = [engine.handle(_request(arrived)) for _ in range(3)]
    return [(r.status, r.headers.get("retry-after")) for r in replies]


def test_retry_after_is_in_simulated_seconds_under_a_time_scale(tmp_path: Path) -> None:
    replies = _burst(tmp_path, 60.0)
    assert [status for status, _ in replies] == [200, 200, 429]
    # one real second at 60x is the 60 simulated seconds of Workato's one-minute window
    assert replies[2][1] == "60"


def test_retry_after_without_a_time_scale_is_the_real_wait(tmp_path: Path) -> None:
    replies = _burst(tmp_path, 1.0)
    assert [status for status, _ in replies] == [200, 200, 429]
    assert replies[2][1] == "60"


def test_spaced_arrivals_handled_in_shuffled_order_are_allowed() -> None:
    clock = FakeClock(time_scale=1.0)
    limiter = RateLimiter()
    arrivals = [1000.0 + i * 15.0 for i in range(8)]  # 4 per 60 s, exactly
    order = arrivals[:4] + random.Random(7).sample(arrivals[4:], 4)
    clock.at = arrivals[-1] + 1.0
    # each window (at - 60, at] holds at most three others of these, whatever the order
    assert [limiter.check("other", 4, 60.0, clock, at) for at in order] == [None] * 8

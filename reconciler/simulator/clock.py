"""Simulated time: every window, job duration and latency is divided by the time scale.

With `time_scale=60`, a one-minute rate-limit window lasts one real second, and a job
that takes 30 simulated seconds completes after half a real second.
"""

from __future__ import annotations

import time

__all__ = ["Clock"]


class Clock:
    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale

    def now(self) -> float:
        """Real seconds on the monotonic clock (tests give a clock of their own)."""
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def real(self, simulated_seconds: float) -> float:
        """Real seconds that `simulated_seconds` of simulated time take."""
        return simulated_seconds / self.time_scale

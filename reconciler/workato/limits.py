"""Client-side quota buckets, so that Workato never has to answer 429 to us.

Workato counts RLCM calls per partner workspace in four buckets (`Bucket`). Every
client in this process that talks to the same base URL with the same credentials shares
one `QuotaLimiters` (see `shared_limiters`), so a fleet apply with hundreds of concurrent
tasks still stays inside the quota as a whole.

Each bucket is a sliding-window log: it never lets more than `limit` requests *start*
within any `window` seconds. A caller reserves the next free start time under a plain
lock (O(1), no await inside), then sleeps until then outside the lock, so thousands of
waiting tasks cost nothing but their sleep and are served in arrival order. The lock is
a threading lock so that limiters may be shared by event loops in different threads.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from reconciler.desired import RateLimits

__all__ = [
    "Bucket",
    "Clock",
    "QuotaLimiters",
    "Sleep",
    "SlidingWindowLimiter",
    "shared_limiters",
    "window_for_rate",
]

Bucket = Literal["imports", "import_status", "dev_imports", "other"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Requests leave us a little before Workato counts them; widening our window by this
# much keeps uneven network latency from squeezing one extra call into its window.
WINDOW_MARGIN = 1.0
MIN_MARGIN = 0.1  # seconds, for a time-scaled simulator's short windows
MAX_LATE_SHARE = 0.05  # of the window: the most that late wake-ups widen it


def window_for_rate(per_minute: float, minute: float = 60.0) -> tuple[int, float]:
    """(limit, window seconds) for a rate in requests per minute.

    A whole number per minute is a one-minute window. A fractional rate (the developer
    API's 500/hour is 8.33/minute) is counted over an hour, as Workato counts it.
    `minute` is how long a minute lasts: 60 s, or less against a time-scaled simulator.
    """
    if per_minute <= 0 or minute <= 0:
        raise ValueError("a rate limit must be positive")
    if float(per_minute).is_integer():
        return int(per_minute), minute
    return max(1, math.floor(per_minute * 60 + 1e-6)), minute * 60


class SlidingWindowLimiter:
    """At most `limit` starts in any `window` (+ margin) seconds."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        margin: float = WINDOW_MARGIN,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit and window must be positive")
        self.limit = limit
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque(maxlen=limit)  # reserved start times, ascending
        self._lock = threading.Lock()
        # How late a busy event loop woke a caller after its slot: a late start lands in
        # the server's window with the next one, so later slots keep that much apart too
        # (capped, so one long pause cannot slow the rest of the run much)
        self._late = 0.0
        self._late_cap = window * MAX_LATE_SHARE

    @classmethod
    def per_minute(
        cls,
        rate: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        time_scale: float = 1.0,
    ) -> SlidingWindowLimiter:
        limit, window = window_for_rate(rate, 60.0 / time_scale)
        # the margin covers network jitter, which a time scale does not shrink much
        margin = max(WINDOW_MARGIN / time_scale, MIN_MARGIN)
        return cls(limit, window, clock=clock, sleep=sleep, margin=margin)

    def reserve(self) -> float:
        """Claim the earliest start time that keeps the window within the limit."""
        with self._lock:
            now = self._clock()
            start = now
            if len(self._starts) == self.limit:
                # the limit-th most recent start must leave the window before we may start
                start = max(now, self._starts[0] + self.window + self._late)
            self._starts.append(start)  # maxlen drops the oldest
            return start - now

    async def acquire(self) -> float:
        """Wait for a start slot; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            due = self._clock() + delay
            await self._sleep(delay)
            late = self._clock() - due
            if late > self._late:
                with self._lock:
                    self._late = min(max(self._late, late), self._late_cap)
        return delay


@dataclass(frozen=True)
class QuotaLimiters:
    """The four quota buckets of one workspace."""

    imports: SlidingWindowLimiter
    import_status: SlidingWindowLimiter
    dev_imports: SlidingWindowLimiter
    other: SlidingWindowLimiter

    @classmethod
    def from_rates(
        cls, rates: RateLimits, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> QuotaLimiters:
        def make(rate: float) -> SlidingWindowLimiter:
            return SlidingWindowLimiter.per_minute(
                rate, clock=clock, sleep=sleep, time_scale=rates.time_scale
            )

        return cls(
            imports=make(rates.imports),
            import_status=make(rates.import_status),
            dev_imports=make(rates.dev_imports),
            other=make(rates.other),
        )

    def bucket(self, name: Bucket) -> SlidingWindowLimiter:
        limiter: SlidingWindowLimiter = getattr(self, name)
        return limiter


_REGISTRY: dict[tuple[str, str, RateLimits], QuotaLimiters] = {}
_REGISTRY_LOCK = threading.Lock()


def shared_limiters(base_url: str, identity: str, rates: RateLimits) -> QuotaLimiters:
    """The process-wide limiters of one workspace (base URL + credential identity).

    `identity` is a digest of the credentials, never the token. Clients configured with
    other rates get their own limiters: a process that runs several configs one after
    another (tests, the demo) must not inherit the first config's quotas.
    """
    key = (base_url.rstrip("/").lower(), identity, rates)
    with _REGISTRY_LOCK:
        limiters = _REGISTRY.get(key)
        if limiters is None:
            limiters = _REGISTRY[key] = QuotaLimiters.from_rates(rates)
        return limiters

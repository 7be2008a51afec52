"""Client-side quota buckets, so that Workato never has to answer 429 to us.

Workato counts RLCM calls per partner workspace in four buckets, and the Recipes API's
in three more (`Bucket`). Every
client in this process that talks to the same base URL with the same credentials shares
one `QuotaLimiters` (see `shared_limiters`), so a fleet apply with hundreds of concurrent
tasks still stays inside the quota as a whole.

Each bucket is a sliding-window log: it never lets more than `limit` requests *start*
within any `window` seconds. A caller plans its start time under a plain lock (O(1), no
await inside) and sleeps until then outside the lock, so thousands of waiting tasks cost
little but their sleep and are served in about arrival order. The start is recorded only
when the request really leaves (`Turn.start`): on a loaded machine the event loop may get
there well after the planned time, and a start recorded early would let the next window
open too soon. The lock is a threading lock so that limiters may be shared by event loops
in different threads.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from reconciler.config.desired import RateLimits

__all__ = [
    "Bucket",
    "Clock",
    "QuotaLimiters",
    "Sleep",
    "SlidingWindowLimiter",
    "Turn",
    "shared_limiters",
    "window_for_rate",
]

Bucket = Literal[
    "imports",
    "import_status",
    "dev_imports",
    "other",
    "recipes",
    "recipe_actions",
    "dev_recipes",
    "folders",
]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Requests leave us a little before Workato counts them; widening our window by this
# much keeps uneven network latency from squeezing one extra call into its window.
WINDOW_MARGIN = 1.0
MIN_MARGIN = 0.1  # seconds, for a time-scaled simulator's short windows


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


class Turn:
    """One caller's place in a limiter: a planned start, then the start it really makes.

    `SlidingWindowLimiter.turn()` waits until the planned time; `start()` then waits, if
    need be, until the starts already made leave room, and records this one. Call it at
    the last moment before the request leaves (the client does so from httpcore's trace
    hook, once a pooled connection is ready): on a busy event loop that moment can come
    well after the planned time, and it is the one the server counts.
    """

    __slots__ = ("_limiter", "at", "started", "waited")

    def __init__(self, limiter: SlidingWindowLimiter, at: float) -> None:
        self._limiter = limiter
        self.at = at  # planned start; once started, the real one
        self.started = False
        self.waited = 0.0  # seconds this caller waited for the quota, in both phases

    async def start(self) -> None:
        """Record this start once the window allows it (at most once; later calls return)."""
        if not self.started:
            await self._limiter._start(self)

    def sent(self) -> None:
        """The request has really left (its headers are written): count the start from
        now. Between `start()` and the write the event loop may run other work for tens
        of ms; the server counts the later moment."""
        self._limiter._sent(self)


class SlidingWindowLimiter:
    """At most `limit` starts in any `window` (+ margin) seconds.

    Two logs of the last `limit` starts: *planned* ones, which spread waiting callers
    over the coming windows so that each wakes once, at its turn; and *started* ones,
    written only when a request really leaves (`Turn.start`). The started log is what
    keeps the server's count within the quota; the planned one only keeps thousands of
    waiting callers from waking together.
    """

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
        self._planned: deque[Turn] = deque(maxlen=limit)  # in the order they were asked
        # in the order they started; `Turn.sent` may move one later, never earlier
        self._started: deque[Turn] = deque(maxlen=limit)
        self._lock = threading.Lock()

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
        """Plan the earliest start that keeps the window within the limit; its delay."""
        turn, now = self._plan()
        return turn.at - now

    async def turn(self) -> Turn:
        """Wait until this caller's planned start; the request then calls `Turn.start()`."""
        turn, asked = self._plan()
        delay = turn.at - asked
        if delay > 0:
            await self._sleep(delay)
            turn.waited = delay
        return turn

    async def acquire(self) -> float:
        """Wait for a start slot and take it now; returns the seconds waited."""
        turn = await self.turn()
        await turn.start()
        return turn.waited

    def _plan(self) -> tuple[Turn, float]:
        with self._lock:
            now = self._clock()
            at = max(now, self._free_at())
            if len(self._planned) == self.limit:
                # the limit-th most recent plan must leave the window before we may start
                at = max(at, self._planned[0].at + self.window)
            turn = Turn(self, at)
            self._planned.append(turn)  # maxlen drops the oldest
            return turn, now

    async def _start(self, turn: Turn) -> None:
        while True:
            with self._lock:
                now = self._clock()
                free = self._free_at()
                if now >= free:
                    turn.at = max(turn.at, now)  # later plans count from the real start
                    self._started.append(turn)
                    turn.started = True
                    return
            # a late start before ours moved the window on: wait for the room it left
            await self._sleep(free - now)
            turn.waited += free - now

    def _sent(self, turn: Turn) -> None:
        with self._lock:
            if turn.started:
                turn.at = max(turn.at, self._clock())

    def _free_at(self) -> float:
        """When the started log next allows a start (call under the lock)."""
        if len(self._started) < self.limit:
            return -math.inf
        # the oldest of the last `limit` starts; if `sent` moved it past a later one, this
        # errs on the safe side (a later free time)
        return self._started[0].at + self.window


@dataclass(frozen=True)
class QuotaLimiters:
    """The quota buckets of one workspace."""

    imports: SlidingWindowLimiter
    import_status: SlidingWindowLimiter
    dev_imports: SlidingWindowLimiter
    other: SlidingWindowLimiter
    # the Recipes API's buckets; built with Workato's quotas when not given, so code that
    # builds the four RLCM buckets by hand keeps working
    recipes: SlidingWindowLimiter = field(default_factory=lambda: _default("recipes"))
    recipe_actions: SlidingWindowLimiter = field(default_factory=lambda: _default("recipe_actions"))
    dev_recipes: SlidingWindowLimiter = field(default_factory=lambda: _default("dev_recipes"))
    folders: SlidingWindowLimiter = field(default_factory=lambda: _default("folders"))

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
            recipes=make(rates.recipes),
            recipe_actions=make(rates.recipe_actions),
            dev_recipes=make(rates.dev_recipes),
            folders=make(rates.folders),
        )

    def bucket(self, name: Bucket) -> SlidingWindowLimiter:
        limiter: SlidingWindowLimiter = getattr(self, name)
        return limiter


def _default(bucket: str) -> SlidingWindowLimiter:
    rate: float = getattr(RateLimits(), bucket)
    return SlidingWindowLimiter.per_minute(rate)


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

"""Client-side quota buckets: a belief about Workato's quotas, corrected by its 429s.

Workato counts RLCM calls per partner workspace in four buckets, the Recipes API's in
three more, and the customers list and folders endpoints of a generated fleet in two
more (`Bucket`). Every
client in this process that talks to the same base URL with the same credentials shares
one `QuotaLimiters` (see `shared_limiters`), so a fleet apply with hundreds of concurrent
tasks still stays inside the quota as a whole.

Each bucket never lets more than `limit` requests *start* within any `window` seconds
(a sliding-window log), or, for a quota stated as `window: fixed`, within one clock
window (the top of the minute or hour, as Workato's "denied until the following hour"
resets). A caller plans its start time under a plain lock (O(1), no await inside) and
sleeps until then outside the lock, so thousands of waiting tasks cost little but their
sleep and are served in about arrival order. The start is recorded only when the request
really leaves (`Turn.start`): on a loaded machine the event loop may get there well after
the planned time, and a start recorded early would let the next window open too soon.
The lock is a threading lock so that limiters may be shared by event loops in different
threads.

A bucket also lets only a few started requests wait for their answers at once
(`in_flight_for`: as many as it could start in a tenth of its window at Workato's usual
answer time, 5 for 60 a minute), on top of the client's pool of connections: a window's
worth still goes out in seconds, and when a server stricter than the belief refuses its
first request, only those few are already on their way behind it (each draws its own 429:
with 16 in flight, a first apply of 20 manifests against half the "other" quota drew 10).

The configured quota is a belief (Workato's own pages disagree, and quotas differ by
plan). A 429 corrects it for the whole bucket at once (`throttled`), never just for the
request that drew it, but one 429 alone is not taken as proof of a lower quota (an
injected fault, a hiccup, another client's burst all draw one):

- the refused start is taken out of the log (the server did not count it);
- `Retry-After` (seconds or an HTTP date, in the server's seconds) blocks the bucket until
  then (at most `MAX_RETRY_AFTER`), which waits out a fixed hourly window in one sleep;
  without one the bucket is blocked for a backoff that doubles, up to one window;
- the first 429 after a quiet spell (none in the ten windows of sending before it) only
  waits: when the bucket opens, one request probes while the others hold back. Answered,
  the bucket goes on at the rate it believed, but lets only one more request wait for its
  answer per answer that came (the number in flight doubles each round trip, as in TCP's
  slow start) until a window passes without a 429: a quota that is really lower then
  draws one more 429 and a few in flight, not a burst. Refused, that is a second 429;
- a second 429 soon after the first (the probe refused, or more calls refused after the
  probe passed) is the server's quota speaking: the bucket's `limit` drops to the starts
  the server did accept within the window (with a sliding window that is the server's
  quota, learned in one step, and the log itself then says when the next start fits). A
  429 no count explains (nothing accepted in the window) halves `limit` instead, backs
  off and probes again;
- a `Retry-After` longer than the bucket's window says the server counts by a longer
  window (an hourly one): that one 429 suffices, the bucket learns what the window
  accepted and the hourly window (state's `quotas`). So does a `Retry-After` that says
  what a quota of the accepted starts would (the window frees its oldest one then, within
  a quarter): the server's count and ours agree. `Retry-After: 1`, the least a server
  can say, confirms nothing;
- after a clean window (no 429 for a whole window) a halved `limit` doubles back up to
  where it was, as TCP's slow start does; beyond that, and after a measured decrease, it
  climbs by a twentieth of itself (at least 1) every second clean window, up to the
  configured quota.

This is additive increase, multiplicative (here: measured) decrease, as TCP does: a
measured decrease lands on the server's real rate at once instead of halving below it,
and the slow, small increase probes for a quota that was raised (or a burst of another
client that ended) at a cost of about one 429 per probe, a few per cent of the calls.
Waiting out the first 429 before believing it costs a stricter server one more 429 (the
probe's), and spares a transient one a cut to a few calls per window, which would make
every later call of the run wait out whole windows. Requests already in flight when a
429 arrives may draw their own; they are counted but change nothing more (`Turn.at`
before the 429 that was acted on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import get_args

from reconciler.config.desired import QuotaBucket, RateLimits, quota_of, window_for_rate

__all__ = [
    "MAX_RETRY_AFTER",
    "PROBE_POLL",
    "Bucket",
    "Clock",
    "QuotaLimiters",
    "QuotaListener",
    "QuotaWait",
    "Sleep",
    "SlidingWindowLimiter",
    "Turn",
    "in_flight_for",
    "quota_of",
    "shared_limiters",
    "window_for_rate",
]

log = logging.getLogger(__name__)

Bucket = QuotaBucket  # one list of buckets: config/desired.py
BUCKETS: tuple[Bucket, ...] = get_args(QuotaBucket)
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Requests leave us a little before Workato counts them; widening our window by this
# much keeps uneven network latency from squeezing one extra call into its window.
WINDOW_MARGIN = 1.0
MIN_MARGIN = 0.1  # seconds, for a time-scaled simulator's short windows
# A Retry-After longer than an hour and a minute is not believed: an hourly window resets
# within the hour (the minute covers clock skew).
MAX_RETRY_AFTER = 3660.0
# A 429 within this many windows (of sending: a block's time does not count) of the one
# before it is the quota speaking; the first one after a longer quiet spell only waits.
REPEAT_WINDOWS = 10
# Callers held back for the answers of a probe (or of the requests after it) look this
# often (seconds) whether one came.
PROBE_POLL = 0.1
# A bucket lets wait for their answers only as many requests as it could start in a tenth
# of its window at Workato's usual answer time (`in_flight_for`): 5 for 60 a minute.
ANSWER_TIME = 0.5  # seconds, Workato's (unscaled)
WINDOW_SHARE = 0.1
MIN_IN_FLIGHT = 2


@dataclass(frozen=True, slots=True)
class QuotaWait:
    """Why and until when a bucket waits on Workato (for the log and the progress line)."""

    bucket: str
    seconds: float  # from now
    until: float  # time.time() when the bucket opens again
    reason: str  # e.g. "429 with Retry-After 3400 s"
    limit: int  # the bucket's belief now: starts per window
    window: float  # seconds (ours: divided by the time scale)


QuotaListener = Callable[[QuotaWait], None]


class Turn:
    """One caller's place in a limiter: a planned start, then the start it really makes.

    `SlidingWindowLimiter.turn()` waits until the planned time; `start()` then waits, if
    need be, until the starts already made leave room, and records this one. Call it at
    the last moment before the request leaves (the client does so from httpcore's trace
    hook, once a pooled connection is ready): on a busy event loop that moment can come
    well after the planned time, and it is the one the server counts.
    """

    __slots__ = ("_limiter", "accepted", "at", "started", "waited")

    def __init__(self, limiter: SlidingWindowLimiter, at: float) -> None:
        self._limiter = limiter
        self.at = at  # planned start; once started, the real one
        self.started = False
        self.accepted = False  # Workato answered, and not 429: the server counted it
        self.waited = 0.0  # seconds this caller waited for the quota, in both phases

    async def start(self) -> None:
        """Record this start once the window allows it (at most once; later calls return)."""
        if not self.started:
            await self._limiter._start(self)

    def answered(self) -> None:
        """Workato answered this request with anything but 429: it counted it. Only such
        starts teach a bucket the server's quota (`throttled`); a request still in flight
        may yet be refused. A probe answered opens its bucket again."""
        self.accepted = True
        if self._limiter._tracks_flight():
            self._limiter._landed(self, answered=True)

    def lost(self) -> None:
        """This request got no answer (a dropped connection, a timeout): it no longer
        holds a place among the requests a bucket lets wait for their answer."""
        if self._limiter._tracks_flight():
            self._limiter._landed(self, answered=False)

    def sent(self) -> None:
        """The request has really left (its headers are written): count the start from
        now. Between `start()` and the write the event loop may run other work for tens
        of ms; the server counts the later moment."""
        self._limiter._sent(self)


class SlidingWindowLimiter:
    """At most `limit` starts in any `window` (+ margin) seconds, or per clock window.

    Two logs of the last starts: *planned* ones, which spread waiting callers over the
    coming windows so that each wakes once, at its turn; and *started* ones, written only
    when a request really leaves (`Turn.start`). The started log is what keeps the
    server's count within the quota; the planned one only keeps thousands of waiting
    callers from waking together. `limit` is the current belief (at most `ceiling`, the
    configured quota), corrected by `throttled` on a 429 (see the module docstring).
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        margin: float = WINDOW_MARGIN,
        fixed: bool = False,
        wall: Clock = time.time,
        name: str = "bucket",
        in_flight: int | None = None,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit and window must be positive")
        self.name = name
        # at most this many started requests wait for their answer at once (None: any)
        self.in_flight = in_flight
        self.ceiling = limit
        self.limit = limit
        self.period = window  # the quota's own window (a fixed window's length)
        self.margin = margin
        self.window = window + margin
        self.fixed = fixed
        self._clock = clock
        self._sleep = sleep
        self._offset = wall() - clock()  # fixed windows start on the wall clock's minute/hour
        self._planned: deque[Turn] = deque(maxlen=limit)  # in the order they were asked
        # in the order they started; `Turn.sent` may move one later, never earlier
        self._started: deque[Turn] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self.blocked_until = -math.inf  # no start before this (a Retry-After, a backoff)
        self._penalized_at = -math.inf  # the last 429 acted on (waited out, or believed)
        self._opened_at = -math.inf  # when the bucket opened again after it
        # after a 429: at most `_cap` requests may wait for their answer at once (one
        # probe first; one more for each answered, as TCP's slow start), until the cap
        # reaches `limit` or a window passes without a 429
        self._cap: int | None = None
        self._flight: set[Turn] = set()
        self._calm_since = clock()  # start of the current window without a 429
        self._strikes = 0  # backoffs in a row without an answer between them
        self._threshold = limit  # below this, a clean window doubles `limit` (slow start)
        self._clean = 0  # clean windows counted towards the next gentle step
        self.throttles = 0  # 429s seen
        # (requests, window seconds) the last 429 taught, as the server seems to count
        self.learned: tuple[int, float] | None = None
        self.listeners: list[QuotaListener] = []

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
        return cls(limit, window, clock=clock, sleep=sleep, margin=_margin(time_scale))

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

    def believe(self, limit: int, window: float) -> None:
        """Start from a rate an earlier run learned (`limit` per `window` of our seconds)
        when it is below the current belief; it climbs back gently after clean windows.
        A rate of another window (an hourly one learned from a long Retry-After) is left
        to the next Retry-After: spread over minutes it would pace slower than the server."""
        with self._lock:
            if abs(window - self.period) > 1e-9 * max(1.0, self.period):
                return
            limit = max(1, min(limit, self.limit))
            if limit < self.limit:
                self.limit = self._threshold = limit
                self._penalized_at = self._clock()  # not an isolated 429: no fast climb

    def throttled(self, turn: Turn | None, retry_after: float | None, *, backoff: float) -> float:
        """Workato answered 429 to the request of `turn`: correct the belief of the whole
        bucket (module docstring) and return the seconds until the bucket opens again.

        `retry_after` is in our seconds (already divided by any time scale); `backoff` is
        the first backoff without one (it doubles with each unexplained 429)."""
        with self._lock:
            now = self._clock()
            self.throttles += 1
            if turn is not None and turn.started:
                # the server did not count a refused request: neither its start nor its
                # plan holds back the next one
                _discard(self._started, turn)
                _discard(self._planned, turn)
            if turn is not None:
                self._flight.discard(turn)
            # the server let through what arrived before the refused request (a refused
            # one among them is taken out when its own 429 comes); of what left after it
            # only answered requests are known
            accepted = self._accepted(now, before=None if turn is None else turn.at)
            in_flight = turn is not None and turn.at <= self._penalized_at
            reason = "429 without Retry-After"
            if retry_after is not None:
                retry_after = min(max(retry_after, 0.0), MAX_RETRY_AFTER)
                self.blocked_until = max(self.blocked_until, now + retry_after)
                reason = f"429 with Retry-After {retry_after:.0f} s"
            if not in_flight:
                # a 429 soon after another one is the server's quota speaking; so is a
                # Retry-After longer than our window (the server's is an hour); the first
                # one after a quiet spell may be a hiccup or another client's burst
                repeated = now - self._opened_at <= REPEAT_WINDOWS * self.window
                hourly = retry_after is not None and retry_after > self.period
                confirms = retry_after is not None and self._confirms(now, retry_after, turn)
                self._penalized_at = now
                if repeated or hourly or confirms:
                    reason += self._believe_429(now, accepted, retry_after, backoff, hourly)
                else:
                    if retry_after is None:
                        reason += self._back_off(now, backoff)
                    self._probe_first()
                self._opened_at = self._calm_since = max(now, self.blocked_until)
                self._clean = 0
            wait = max(0.0, self._free_at() - now)
            event = QuotaWait(self.name, wait, time.time() + wait, reason, self.limit, self.period)
        if not in_flight:
            self._tell(event)
        return wait

    def _believe_429(
        self, now: float, accepted: int, retry_after: float | None, backoff: float, hourly: bool
    ) -> str:
        """Lower `limit` after a 429 that was not the first (or an hourly Retry-After):
        to what the server accepted in the window, else by half (under the lock). The
        reason's tail."""
        before = self.limit
        measured = 1 <= accepted < self.limit
        if measured:
            self.limit = self._threshold = accepted  # what the server let through: its quota
            self._strikes = 0
            self._cap = None  # the log says when the next start fits
            reason = f"; Workato took {accepted} in {self.period:g} s: believed now"
        else:
            # a guess: after clean windows it doubles back to where it was
            self.limit = max(1, self.limit // 2)
            self._threshold = max(self._threshold, before)
            self._probe_first()
            reason = f"; limit halved to {self.limit}"
            if retry_after is None:
                reason += self._back_off(now, backoff)
        # what to remember of this server (state's `quotas`, for the next run): only a
        # measured rate, never a halving's guess; a Retry-After longer than our window
        # says the server's window is an hour
        if measured or hourly:
            window = self.period * 60 if hourly and self.period < 3600 else self.period
            since = now - window
            counted = sum(1 for t in self._started if t.at >= since and t.accepted)
            self.learned = (max(1, counted, accepted if measured else 0), window)
        return reason

    def _confirms(self, now: float, retry_after: float, turn: Turn | None) -> bool:
        """Does `retry_after` say what a quota of the starts accepted in the window would
        (the window frees its oldest one about then)? Then one 429 is evidence enough. The
        least a server can say (a second) says nothing (call under the lock)."""
        if retry_after <= 1.5 * self.margin:
            return False
        if self.fixed:
            predicted = self._window_start(now) + self.period - now
        else:
            since = now - self.period
            before = -math.inf if turn is None else turn.at
            oldest = next(
                (t.at for t in self._started if t.at >= since and (t.accepted or t.at < before)),
                None,
            )
            if oldest is None:
                return False
            predicted = oldest + self.period - now
        return abs(retry_after - predicted) <= max(0.25 * predicted, 2 * self.margin)

    def _back_off(self, now: float, backoff: float) -> str:
        """Block the bucket for a backoff that doubles with each one in a row, at most one
        window (under the lock). The reason's tail."""
        delay = min(backoff * 2**self._strikes, self.period)
        self._strikes += 1
        self.blocked_until = max(self.blocked_until, now + delay)
        return f": backing off {delay:.1f} s, then probing"

    def _probe_first(self) -> None:
        """When the bucket opens, one request probes; the others wait for its answer
        (under the lock)."""
        self._cap = 1
        self._flight.clear()

    def _landed(self, turn: Turn, *, answered: bool) -> None:
        """A request of the capped bucket got its answer (not a 429: one more may go, so
        the cap doubles each round trip), or none (its place is free)."""
        with self._lock:
            if turn not in self._flight:
                return
            self._flight.discard(turn)
            if answered:
                self._strikes = 0
                if self._cap is not None:
                    self._cap += 1
                    if self._cap >= self.limit:
                        self._cap = None

    def _tell(self, event: QuotaWait) -> None:
        log.warning(
            "quota: waiting on Workato bucket=%s until=%s reason=%s limit=%s/%gs",
            event.bucket,
            time.strftime("%H:%M:%S", time.localtime(event.until)),
            event.reason,
            event.limit,
            event.window,
        )
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a display must never break a request
                log.debug("quota: listener failed", exc_info=True)

    def _accepted(self, now: float, *, before: float | None = math.inf) -> int:
        """Starts in the window that ends now (call under the lock): all of them, or those
        that left before `before` or were answered (`before=None`: answered only)."""
        since = self._window_start(now) if self.fixed else now - self.period
        if before is None:
            before = -math.inf
        return sum(
            1 for t in reversed(self._started) if t.at >= since and (t.accepted or t.at < before)
        )

    def _window_start(self, at: float) -> float:
        """Start of the clock window (minute, hour) that holds `at`, on our clock."""
        wall = at + self._offset
        return math.floor(wall / self.period) * self.period - self._offset

    def _grow(self, now: float) -> None:
        """After each clean window, climb back towards the ceiling (call under the lock)."""
        if now - self._calm_since < self.window:
            return
        self._cap = None  # no 429 for a window: no more holding back for answers
        if self.limit >= self.ceiling:
            return
        steps = self._clean
        for _ in range(min(int((now - self._calm_since) // self.window), 100)):
            if self.limit < self._threshold:  # back to the belief before a halving: fast
                self.limit = min(self._threshold, self.limit * 2)
            elif steps % 2 == 1:  # beyond it, probe gently: every second clean window
                self.limit = min(self.ceiling, self.limit + max(1, self.limit // 20))
            steps += 1
        self._clean = steps
        self._calm_since = now

    def _plan(self) -> tuple[Turn, float]:
        with self._lock:
            now = self._clock()
            self._grow(now)
            at = max(now, self._free_at())
            at = self._after_planned(at)
            turn = Turn(self, at)
            self._planned.append(turn)  # maxlen drops the oldest
            return turn, now

    def _after_planned(self, at: float) -> float:
        """`at`, moved on until the turns planned before leave room (under the lock)."""
        limit = self.limit
        if not self.fixed:
            if len(self._planned) >= limit:
                # the limit-th most recent plan must leave the window before we may start
                at = max(at, self._planned[-limit].at + self.window)
            return at
        while True:
            start = self._window_start(at)
            planned = sum(1 for t in reversed(self._planned) if t.at >= start)
            if planned < limit:
                return at
            at = start + self.period + self.margin

    async def _start(self, turn: Turn) -> None:
        while True:
            with self._lock:
                now = self._clock()
                free = self._free_at()
                if now >= free:
                    turn.at = max(turn.at, now)  # later plans count from the real start
                    self._started.append(turn)
                    turn.started = True
                    if self._tracks_flight():
                        self._flight.add(turn)  # the others wait for its answer
                    return
            # a late start before ours moved the window on, a 429 closed the bucket, or
            # a probe's answer is awaited: wait for the room it left
            await self._sleep(free - now)
            turn.waited += free - now

    def _sent(self, turn: Turn) -> None:
        with self._lock:
            if turn.started:
                turn.at = max(turn.at, self._clock())

    def _tracks_flight(self) -> bool:
        return self._cap is not None or self.in_flight is not None

    def _free_at(self) -> float:
        """When the started log (and any block) next allows a start (call under the lock)."""
        free = self.blocked_until
        limit = self.limit
        now = self._clock()
        caps = [c for c in (self._cap, self.in_flight) if c is not None]
        if caps and len(self._flight) >= min(caps):
            # a request without an answer for a window is taken for lost
            self._flight = {t for t in self._flight if now < t.at + self.window}
            if len(self._flight) >= min(caps):  # answers are awaited: look again shortly
                free = max(free, now + PROBE_POLL)
        if self.fixed:
            if self._accepted(now) >= limit:
                free = max(free, self._window_start(now) + self.period + self.margin)
            return free
        if len(self._started) >= limit:
            # the oldest of the last `limit` starts; if `sent` moved it past a later one,
            # this errs on the safe side (a later free time)
            free = max(free, self._started[-limit].at + self.window)
        return free


def in_flight_for(limit: int, window: float) -> int:
    """How many requests of a bucket of `limit` per `window` (Workato's seconds) may wait
    for their answers at once: as many as start in a tenth of the window at Workato's
    usual answer time, at least 2 (5 for 60 a minute; a thousand a minute is bound by the
    client's connections first). Enough to send a window's worth well within the window,
    few enough that when a stricter server starts refusing, few requests are already on
    their way behind the first refused one: each of those draws its own 429."""
    return max(MIN_IN_FLIGHT, math.ceil(limit * ANSWER_TIME / (WINDOW_SHARE * window)))


def _margin(time_scale: float) -> float:
    # the margin covers network jitter, which a time scale does not shrink much
    return max(WINDOW_MARGIN / time_scale, MIN_MARGIN)


def _discard(turns: deque[Turn], turn: Turn) -> None:
    with contextlib.suppress(ValueError):  # already dropped off the end of the log
        turns.remove(turn)


def _per_minute(rate: float) -> Callable[[], SlidingWindowLimiter]:
    """A default bucket at Workato's quota, for QuotaLimiters built bucket by bucket."""
    return lambda: SlidingWindowLimiter.per_minute(rate)


@dataclass(frozen=True)
class QuotaLimiters:
    """The quota buckets of one workspace: the four RLCM ones, the Recipes API's, and the
    customers list and folders endpoints of a generated fleet (60/minute each)."""

    imports: SlidingWindowLimiter
    import_status: SlidingWindowLimiter
    dev_imports: SlidingWindowLimiter
    other: SlidingWindowLimiter
    recipes: SlidingWindowLimiter = field(default_factory=_per_minute(2000.0))
    recipe_actions: SlidingWindowLimiter = field(default_factory=_per_minute(1000.0))
    dev_recipes: SlidingWindowLimiter = field(default_factory=_per_minute(60.0))
    customers: SlidingWindowLimiter = field(default_factory=_per_minute(60.0))
    folders: SlidingWindowLimiter = field(default_factory=_per_minute(60.0))
    listeners: list[QuotaListener] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        for name in BUCKETS:
            self.bucket(name).listeners = self.listeners  # one list: listen once for all

    @classmethod
    def from_rates(
        cls, rates: RateLimits, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> QuotaLimiters:
        minute = 60.0 / rates.time_scale

        def make(name: Bucket) -> SlidingWindowLimiter:
            limit, window, fixed = quota_of(rates, name, minute)
            return SlidingWindowLimiter(
                limit,
                window,
                clock=clock,
                sleep=sleep,
                margin=_margin(rates.time_scale),
                fixed=fixed,
                name=name,
                in_flight=in_flight_for(limit, window * rates.time_scale),
            )

        return cls(
            imports=make("imports"),
            import_status=make("import_status"),
            dev_imports=make("dev_imports"),
            other=make("other"),
            customers=make("customers"),
            folders=make("folders"),
            recipes=make("recipes"),
            recipe_actions=make("recipe_actions"),
            dev_recipes=make("dev_recipes"),
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

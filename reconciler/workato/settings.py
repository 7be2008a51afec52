"""Settings and statistics of one WorkatoClient (plain dataclasses, no I/O)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from reconciler.config.desired import DEFAULT_POLL, DEFAULT_RATE_LIMITS, PollSettings, RateLimits
from reconciler.workato.download import MAX_PACKAGE_BYTES
from reconciler.workato.limits import QuotaLimiters

__all__ = ["ClientSettings", "ClientStats"]


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """Everything a client needs; `token` and `email` are never shown (repr=False)."""

    base_url: str
    auth: Literal["bearer", "legacy"] = "bearer"
    token: str = field(repr=False)
    email: str | None = field(default=None, repr=False)  # legacy auth only
    rate_limits: RateLimits = DEFAULT_RATE_LIMITS
    request_timeout: float = 40.0  # Workato's own limit, per read
    request_deadline: float = 120.0  # one whole request, answer included
    max_answer_bytes: int = 64 * 1024 * 1024  # one JSON answer
    poll: PollSettings = DEFAULT_POLL
    max_retries: int = 5
    backoff_base: float = 0.5  # seconds before the first retry (before jitter)
    backoff_max: float = 30.0
    retry_after_max: float = 300.0  # never sleep longer than this on one Retry-After
    max_package_bytes: int = MAX_PACKAGE_BYTES
    max_redirects: int = 5
    # None: the process-wide limiters of this base URL + credentials (the normal case)
    limiters: QuotaLimiters | None = None
    # injectable for tests: a fake clock and sleep make backoff and polling instant
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rand: Callable[[], float] = random.random


@dataclass
class ClientStats:
    """What one client did: requests by endpoint kind, retries, 429s, limiter waits."""

    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429 answers received (retried or not)
    limiter_wait: float = 0.0  # seconds spent waiting for a quota slot

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_retries(self) -> int:
        return sum(self.retries.values())

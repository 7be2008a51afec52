"""Which failures may be retried for which call, and how long to wait before retrying.

A retry must never do twice what should happen once. Each endpoint therefore declares a
`RetryRule` (chosen in client.py, with the reasoning beside each call):

- `statuses`: answers worth another try. 429 means the server refused the request, so
  it did nothing; 502/503/504 are transient; 500 is retried only for reads.
- `unsent_errors`: the connection failed before the request was sent (connect error,
  connect or pool timeout) - always safe to retry, the server never saw it.
- `sent_errors`: the request may have reached the server (read/write error or timeout,
  dropped connection): only safe where doing it twice is harmless.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

import httpx

__all__ = [
    "CREATE",
    "EXPORT",
    "IMPORT",
    "READ",
    "REFUSED",
    "WRITE_IDEMPOTENT",
    "RetryRule",
    "backoff_delay",
    "is_unsent_error",
    "retry_after_seconds",
]

TRANSIENT = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryRule:
    statuses: frozenset[int]
    unsent_errors: bool = True
    sent_errors: bool = False

    def retries_status(self, status: int) -> bool:
        return status in self.statuses

    def retries_error(self, exc: httpx.TransportError) -> bool:
        return self.unsent_errors if is_unsent_error(exc) else self.sent_errors


# Answers that say the request was not carried out: safe to send again, even a create.
REFUSED = frozenset({429, 503})
# GETs change nothing: anything transient, 500 included, any connection failure.
READ = RetryRule(TRANSIENT | {500}, sent_errors=True)
# PUT/DELETE of a manifest: doing it twice leaves the same result; a 500 may mean the
# server is broken for this input, so it is not hammered.
WRITE_IDEMPOTENT = RetryRule(TRANSIENT, sent_errors=True)
# Creating a manifest twice leaves a duplicate manifest nobody tracks: retry only when
# the server certainly did nothing (429 and 503 refuse a request, or it never left us).
CREATE = RetryRule(REFUSED)
# A second export of one manifest is just another package of the same content: harmless.
EXPORT = RetryRule(TRANSIENT, sent_errors=True)
# A second import re-imports the same package (harmless-ish, but it may restart
# recipes twice): retry only on answers that say it was refused (429, 503, and 409: another
# import is running in that workspace, "You can import one package at a time"), never
# after a timeout or a gateway error where it may be running already.
IMPORT_BUSY = 409
IMPORT = RetryRule(REFUSED | {IMPORT_BUSY})


def is_unsent_error(exc: httpx.TransportError) -> bool:
    """True when the request certainly never reached the server."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def backoff_delay(attempt: int, *, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with equal jitter: half fixed, half random (attempt 0 = first retry)."""
    ceiling = min(cap, base * math.pow(2, attempt))
    return ceiling / 2 + rand() * ceiling / 2


def retry_after_seconds(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or HTTP date), else None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses as naive, but HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())

"""Shared fakes for the client tests: a fake clock and factories for clients.

The fakes play Workato (httpx.MockTransport handlers) or time; nothing of rlcm is mocked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from reconciler.config.desired import RateLimits
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.limits import QuotaLimiters

DOCS_BASE = "https://www.workato.com"


@dataclass
class FakeTime:
    """A monotonic clock that only moves when someone sleeps on it."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


MakeClient = Callable[..., WorkatoClient]


@pytest.fixture
def make_client(fake_time: FakeTime) -> MakeClient:
    """A client with its own limiters and fake time; keyword arguments go to ClientSettings."""

    def make(
        handler: Callable[[httpx.Request], httpx.Response] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **overrides: Any,
    ) -> WorkatoClient:
        rates = overrides.pop("rate_limits", RateLimits(other=10_000, imports=10_000))
        values: dict[str, Any] = {
            "base_url": DOCS_BASE,
            "token": "secret-token-123",
            "rate_limits": rates,
            "limiters": QuotaLimiters.from_rates(
                rates, clock=fake_time.clock, sleep=fake_time.sleep
            ),
            "clock": fake_time.clock,
            "sleep": fake_time.sleep,
            "rand": lambda: 0.5,
        }
        values.update(overrides)
        if handler is not None:
            transport = httpx.MockTransport(handler)
        return WorkatoClient(ClientSettings(**values), transport=transport)

    return make

"""Shared pieces of the round-trip tests: the real client against the real simulator,
in process (`sim://DIR`) and over real HTTP on 127.0.0.1.

Nothing is faked: `open_client` builds the client from a WorkspaceSpec exactly as the CLI
does, and the simulator answers from a seeded demo world in a temporary directory.
Credentials come from environment variables (set with monkeypatch), as in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from reconciler.cli.connect import open_client
from reconciler.config.desired import PollSettings, RateLimits, WorkspaceSpec
from reconciler.simulator import Simulator
from reconciler.workato.client import WorkatoClient

T = TypeVar("T")
TOKEN = "demo-token"
EMAIL = "ops@partner.example"
POLL = PollSettings(interval=0.01, max_interval=0.05, timeout=10)
# the client-side limiter is tested on its own (test_roundtrip_ratelimit.py)
UNLIMITED = RateLimits(imports=1e6, import_status=1e6, other=1e6, dev_imports=1e6)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class World:
    """A seeded simulator and the base URL a WorkspaceSpec uses to reach it."""

    sim: Simulator
    base_url: str  # sim://DIR or http://127.0.0.1:PORT
    mode: Literal["sim", "http"]

    def workspace(
        self,
        auth: Literal["bearer", "legacy"] = "bearer",
        *,
        request_timeout: float = 5.0,
        rate_limits: RateLimits = UNLIMITED,
    ) -> WorkspaceSpec:
        return WorkspaceSpec(
            name="partner",
            base_url=self.base_url,
            auth=auth,
            email_env="WORKATO_API_EMAIL" if auth == "legacy" else None,
            rate_limits=rate_limits,
            request_timeout=request_timeout,
            poll=POLL,
        )

    def client(self, auth: Literal["bearer", "legacy"] = "bearer", **kw: Any) -> WorkatoClient:
        return open_client(self.workspace(auth, **kw))  # credentials from os.environ

    def use(
        self,
        body: Callable[[WorkatoClient], Coroutine[Any, Any, T]],
        auth: Literal["bearer", "legacy"] = "bearer",
        **kw: Any,
    ) -> T:
        """Run `body(client)` with a fresh client, closed afterwards."""

        async def go() -> T:
            async with self.client(auth, **kw) as client:
                return await body(client)

        return run(go())

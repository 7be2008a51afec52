"""Fixtures of the simulator tests: the seeded demo world and an async client of it in
process (`sim_world.py` has the constants and helpers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sim_world import BEARER, demo_sim

from reconciler.simulator import Simulator
from reconciler.simulator.transport import SimTransport


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim(tmp_path: Path) -> Simulator:
    return demo_sim(tmp_path)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """The Embedded and Recipes APIs with the demo token, in process (SimTransport)."""
    async with httpx.AsyncClient(
        transport=SimTransport(sim.directory), base_url="http://workato.sim", headers=BEARER
    ) as c:
        yield c

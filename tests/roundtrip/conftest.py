"""Fixtures of the round-trip tests (see roundtrip_world.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from roundtrip_world import EMAIL, TOKEN, World

from reconciler.simulator import Simulator
from reconciler.simulator.serve import running_server


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKATO_API_TOKEN", TOKEN)
    monkeypatch.setenv("WORKATO_API_EMAIL", EMAIL)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo world, seeded once per test process (seeding costs more than copying)."""
    directory = tmp_path_factory.mktemp("demo") / "sim"
    Simulator(directory).seed_demo()
    return directory


@pytest.fixture
def sim(tmp_path: Path, seeded: Path) -> Simulator:
    """A fresh copy of the seeded demo world for each test."""
    shutil.copytree(seeded, tmp_path / "sim")
    return Simulator(tmp_path / "sim")


@pytest.fixture(params=["sim", "http"])
def world(request: pytest.FixtureRequest, sim: Simulator) -> Iterator[World]:
    """The same simulator in process and over real HTTP on 127.0.0.1."""
    if request.param == "sim":
        yield World(sim, f"sim://{sim.directory}", "sim")
        return
    with running_server(sim.directory) as url:
        yield World(sim, url, "http")

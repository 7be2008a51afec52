"""Fixtures of the hardening suite (the world itself is in hardening_world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hardening_world import World, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.fixture
def pg_world(tmp_path: Path, pg_dsn: str) -> World:
    """The same world with its state in PostgreSQL (kind: State), on the suite's server."""
    return make_world(tmp_path, pg_dsn=pg_dsn)


@pytest.fixture
def legacy_world(tmp_path: Path) -> World:
    return make_world(tmp_path, auth="legacy")


@pytest.fixture
def no_stray_writes(tmp_path: Path) -> Iterator[None]:
    """Files written outside tmp_path by the test (a zip-slip would land in a parent)."""
    parent = tmp_path.parent
    before = {p.name for p in parent.iterdir()}
    yield
    after = {p.name for p in parent.iterdir()}
    assert after - before <= {tmp_path.name}, after - before

"""Import slots: a target already under way gets a free slot before a target that has not
started (so targets finish, and their baseline reads start, early), and never more than
`max_parallel` imports run at once.

Read back from the in-process simulator: its request log (the order import POSTs were
handled) and its import jobs (when each was created and finished). No timing assertions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.simulator.core import Json
from tests.e2e.apply_fixtures import World, generic_customers


@pytest.fixture(autouse=True)
def _own_quota_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our own quota limiters (see tests/e2e/conftest.py)."""
    from reconciler.workato import limits

    monkeypatch.setattr(limits, "_REGISTRY", {})


def _max_in_flight(jobs: list[Json]) -> int:
    events = sorted(
        [(job["created"], 1) for job in jobs] + [(job["finished"], -1) for job in jobs],
        key=lambda event: (event[0], event[1]),  # an end before a start at the same instant
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def _import_folders(world: World) -> list[int]:
    """The target folder of each import POST, in the order the simulator handled them."""
    return [
        int(r.query["folder_id"])
        for r in world.log()
        if r.kind == "import" and r.method == "POST" and r.status < 300
    ]


def _apply(tmp_path: Path, targets: int, max_parallel: int) -> World:
    world = World(tmp_path, customers=targets)
    world.generic_fleet(targets, waves=["main"], max_parallel=max_parallel)
    result = world.apply("-q")
    assert result.exit_code == 0, result.stdout + result.stderr
    return world


def test_targets_under_way_run_their_imports_back_to_back(tmp_path: Path) -> None:
    world = _apply(tmp_path, targets=4, max_parallel=2)
    folders = [folder for _, folder in generic_customers(4)]
    order = _import_folders(world)
    assert sorted(order) == sorted(folders * 3)

    first_two = set(order[:2])
    later = [f for f in folders if f not in first_two]
    # the two targets that started first finish all three imports before either of the
    # others starts its first (a FIFO semaphore would start all four first imports first)
    assert sorted(order[:6]) == sorted([*first_two] * 3), order
    assert sorted(order[6:]) == sorted(later * 3), order

    jobs = world.sim.jobs("import")
    assert len(jobs) == 12
    assert _max_in_flight(jobs) <= 2
    for folder in first_two:
        mine = max(j["finished"] for j in jobs if int(j["params"]["folder_id"]) == folder)
        theirs = min(j["created"] for j in jobs if int(j["params"]["folder_id"]) in later)
        assert mine <= theirs, (folder, order)


def test_one_slot_finishes_each_target_before_the_next_starts(tmp_path: Path) -> None:
    world = _apply(tmp_path, targets=3, max_parallel=1)
    order = _import_folders(world)
    # each target's three imports back to back: [a, a, a, b, b, b, c, c, c]
    assert [order[i] for i in range(0, 9, 3)] == sorted(set(order), key=order.index)
    assert all(order[i] == order[i + 1] == order[i + 2] for i in range(0, 9, 3)), order
    assert _max_in_flight(world.sim.jobs("import")) == 1

"""Import slots: a target already under way gets a free slot before a target that has not
started (so targets finish, and their baseline reads start, early), except at the end of
a wave, where the target with most imports left goes first (so no slots idle in a tail);
never more than `max_parallel` imports run at once.

Read back from the in-process simulator: its request log (the order import POSTs were
handled) and its import jobs (when each was created and finished). No timing assertions.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.apply_fixtures import World, generic_customers, max_in_flight


@pytest.fixture(autouse=True)
def _own_quota_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our own quota limiters (see tests/e2e/conftest.py)."""
    from reconciler.workato import limits

    monkeypatch.setattr(limits, "_REGISTRY", {})


def _import_folders(world: World, since: int = 0) -> list[int]:
    """The target folder of each import POST, in the order the simulator handled them."""
    return [
        int(r.query["folder_id"])
        for r in world.log()[since:]
        if r.kind == "import" and r.method == "POST" and r.status < 300
    ]


def _apply(tmp_path: Path, targets: int, max_parallel: int) -> tuple[World, int]:
    """Apply to `targets` generic customers whose packages are already exported (a first
    apply to one more customer recorded them), so no import waits for an export and the
    order of imports depends on the import slots alone. Returns the world and where the
    second apply starts in the request log."""
    world = World(tmp_path, customers=targets + 1)
    world.generic_fleet(1, waves=["main"], max_parallel=max_parallel)
    first = world.apply("-q")
    assert first.exit_code == 0, first.stdout + first.stderr
    since = len(world.log())
    world.generic_fleet(targets + 1, waves=["main"], max_parallel=max_parallel)
    result = world.apply("-q")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert not [r for r in world.log()[since:] if r.kind == "export" and r.method == "POST"]
    return world, since


def test_targets_under_way_run_their_imports_back_to_back(tmp_path: Path) -> None:
    world, since = _apply(tmp_path, targets=4, max_parallel=2)
    folders = [folder for _, folder in generic_customers(5)[1:]]
    order = _import_folders(world, since)
    assert sorted(order) == sorted(folders * 3)

    first_two = set(order[:2])
    later = [f for f in folders if f not in first_two]
    # the two targets that started first finish all three imports before either of the
    # others starts its first (a FIFO semaphore would start all four first imports first)
    assert sorted(order[:6]) == sorted([*first_two] * 3), order
    assert sorted(order[6:]) == sorted(later * 3), order

    jobs = [j for j in world.sim.jobs("import") if int(j["params"]["folder_id"]) in folders]
    assert len(jobs) == 12
    assert max_in_flight(jobs) <= 2
    # a later target's first import takes the slot of a first target that finished all
    # three (the other may still be on its third while it starts)
    done = min(
        max(j["finished"] for j in jobs if int(j["params"]["folder_id"]) == folder)
        for folder in first_two
    )
    theirs = min(j["created"] for j in jobs if int(j["params"]["folder_id"]) in later)
    assert done <= theirs, order


def test_at_the_end_a_target_not_started_goes_before_the_last_imports(tmp_path: Path) -> None:
    """3 targets x 3 imports on 2 slots: depth first alone takes 6 rounds (two targets,
    then the third alone on one slot); starting the third once 6 imports are left takes
    5, the fewest 9 imports on 2 slots can take."""
    world, since = _apply(tmp_path, targets=3, max_parallel=2)
    order = _import_folders(world, since)
    assert len(order) == 9
    first_two = set(order[:2])
    [third] = {folder for _, folder in generic_customers(4)[1:]} - first_two
    # depth first until 6 imports are left (ceil(6 / 2) = 3 rounds, the third target's
    # 3): then the third target starts, before the first two finished (depth first alone
    # would start it only after their 6 imports)
    assert order.index(third) in (3, 4, 5), order
    assert order.count(third) == 3, order
    jobs = [j for j in world.sim.jobs("import") if int(j["params"]["folder_id"]) != 0]
    assert max_in_flight(jobs) <= 2


def test_one_slot_finishes_each_target_before_the_next_starts(tmp_path: Path) -> None:
    world, since = _apply(tmp_path, targets=3, max_parallel=1)
    order = _import_folders(world, since)
    assert len(order) == 9
    # each target's three imports back to back: [a, a, a, b, b, b, c, c, c]
    assert [order[i] for i in range(0, 9, 3)] == sorted(set(order), key=order.index)
    assert all(order[i] == order[i + 1] == order[i + 2] for i in range(0, 9, 3)), order
    assert max_in_flight(world.sim.jobs("import")) == 1


def test_a_waiting_target_under_way_is_served_before_one_not_started() -> None:
    """`Slots` itself: lower rank first (a target's k-th import waits at rank -k), in
    arrival order within a rank, and never more holders than slots."""
    served, peak = _serve(2, WAITERS, expected=100)  # the end of the wave is far away
    # a and b take the two free slots; then third imports, second imports, first imports
    assert served == ["a", "b", "e3", "c2", "f2", "d", "g"]
    assert peak == 2


def test_at_the_end_of_a_wave_the_waiter_with_most_imports_left_goes_first() -> None:
    """Once the imports left fit in as many full rounds as the longest waiting target has
    imports, depth first would leave that target a tail of its own: it goes first."""
    waiters = [("a", 0, 1), ("b", 0, 1), ("c2", -1, 2), ("d", 0, 3)]
    # once a and b started, 7 imports left: ceil(7 / 2) = 4 rounds > d's 3, depth first
    served, _ = _serve(2, waiters, expected=9)
    assert served == ["a", "b", "c2", "d"]
    # 5 left: ceil(5 / 2) = 3 <= d's 3: d goes first, and c2's 2 still fit after it
    served, _ = _serve(2, waiters, expected=7)
    assert served == ["a", "b", "d", "c2"]


def test_a_target_under_way_hands_its_slot_only_at_the_end() -> None:
    from reconciler.applier.slots import Slots

    async def go() -> tuple[bool, bool, bool]:
        slots = Slots(1)
        slots.expect(4)
        await slots.acquire(0, 1)  # the holder, about to do its last import
        slots.spent()
        waiter = asyncio.create_task(slots.acquire(0, 3))  # a target not started
        await asyncio.sleep(0)
        # 3 imports left, 1 slot: ceil(3 / 1) <= 3, the end; the waiter has more to do
        end = slots.should_yield(1)
        even = slots.should_yield(3)  # the holder has as many left: it keeps the slot
        slots.expect(10)  # a long way to go: depth first, it keeps the slot
        far = slots.should_yield(1)
        slots.release()
        await waiter
        return end, even, far

    assert asyncio.run(go()) == (True, False, False)


def _serve(size: int, waiters: list[tuple[str, int, int]], expected: int) -> tuple[list[str], int]:
    """Run `waiters` (name, rank, imports left) through Slots(size), each holding its
    slot for two turns of the event loop; the order they were served, and the most
    holders at once."""
    from reconciler.applier.slots import Slots

    served: list[str] = []
    holding = peak = 0

    async def one(slots: Slots, name: str, rank: int, left: int) -> None:
        nonlocal holding, peak
        await slots.acquire(rank, left)
        slots.spent()
        holding += 1
        peak = max(peak, holding)
        served.append(name)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        holding -= 1
        slots.release()

    async def go() -> None:
        slots = Slots(size)
        slots.expect(expected)
        tasks = [asyncio.create_task(one(slots, *w)) for w in waiters]
        await asyncio.gather(*tasks)

    asyncio.run(go())
    return served, peak


WAITERS = [
    ("a", 0, 3), ("b", 0, 3), ("c2", -1, 2), ("d", 0, 3), ("e3", -2, 1), ("f2", -1, 2),
    ("g", 0, 3),
]  # fmt: skip

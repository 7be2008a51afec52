"""A killed or interrupted `rlcm apply` subprocess, run again to completion.

The applier records every job id in state as soon as Workato answers the POST (see
reconciler/applier/steps.py). So after a SIGKILL at any point, the next apply polls what
was started and sends only what was never sent; the only duplicates allowed are the
documented window: a POST answered but killed before its id reached state (and, for
manifests, only with a `pending` marker left behind). The simulator's jobs and request
log are the evidence.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from apply_fixtures import World, count, imported_manifests

from reconciler.state.model import State
from reconciler.state.store import StateStore

CUSTOMERS = 6
MAX_PARALLEL = 3
PAIRS = 3 * CUSTOMERS


def _slow_world(root: Path) -> World:
    """Jobs need three status polls and every answer takes 10 ms: a run lasts a while."""
    world = World(root, customers=CUSTOMERS)
    world.generic_fleet(CUSTOMERS, waves=["main"], max_parallel=MAX_PARALLEL)
    world.sim.set_job_timing(duration=60, polls=3)
    world.sim.set_latency(0.01)
    return world


def _log_lines(world: World) -> int:
    try:
        return (world.sim_dir / "requests.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _wait_for(proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the apply never got there"
        time.sleep(0.003)


def _state(world: World) -> State:
    return StateStore(world.state_path).read()


def _import_pairs(world: World, since: float = 0.0) -> list[tuple[str, int]]:
    """(manifest, folder) of every import job the simulator created after `since`."""
    pairs = []
    for folder in range(50_001, 50_001 + CUSTOMERS):
        jobs = [j for j in world.sim.jobs("import") if int(j["params"]["folder_id"]) == folder]
        names = imported_manifests(world, folder)
        pairs += [(n, folder) for n, j in zip(names, jobs, strict=True) if j["created"] > since]
    return pairs


def _recorded_imports(state: State) -> set[tuple[str, int]]:
    return {(r.manifest, int(r.target.rsplit("/", 1)[1])) for r in state.imports.values()}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 3, 5, 6])  # exports, first imports, mid, last
def test_a_killed_apply_resumes_without_duplicates(tmp_path: Path, seed: int) -> None:
    world = _slow_world(tmp_path)
    # a request count between start and end (a clean run makes ~95 requests)
    kill_at = random.Random(seed).randint(4, 85)
    proc = world.popen("apply", "--auto-approve", "-q")
    _wait_for(proc, lambda: _log_lines(world) >= kill_at)
    proc.kill()
    proc.communicate()
    killed_at = time.time()

    before = _state(world)
    sent = {
        "manifest": count(world.log(), "manifest_create"),
        "export": len(world.sim.jobs("export")),
        "import": len(world.sim.jobs("import")),
    }
    unrecorded = {
        "manifest": sent["manifest"] - len(before.manifests),
        "export": sent["export"] - len(before.packages),
        "import": sent["import"] - len(before.imports),
    }
    # the documented window: at most the steps in flight at once
    assert 0 <= unrecorded["manifest"] <= len(before.pending)
    assert 0 <= unrecorded["export"] <= 3
    assert 0 <= unrecorded["import"] <= MAX_PARALLEL
    in_progress = {r.import_id for r in before.imports.values() if r.status == "in_progress"}
    world.sim.clear_request_log()

    resumed = world.apply()

    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    log = world.log()
    new_pairs = _import_pairs(world, since=killed_at)
    assert len(new_pairs) == len(set(new_pairs)) == count(log, "import")
    assert not set(new_pairs) & _recorded_imports(before), "an import was sent twice"
    assert len(new_pairs) + len(before.imports) == PAIRS
    assert count(log, "export") == 3 - len(before.packages)
    assert count(log, "manifest_create") == 3 - len(before.manifests)
    polled = {r.path.rsplit("/", 1)[1] for r in log if r.kind == "import_status"}
    assert {str(i) for i in in_progress} <= polled  # started before the kill: polled
    after = _state(world)
    assert len(after.imports) == PAIRS
    assert {r.status for r in after.imports.values()} == {"completed"}
    assert not after.pending
    total = {"export": len(world.sim.jobs("export")), "import": len(world.sim.jobs("import"))}
    assert total == {"export": 3 + unrecorded["export"], "import": PAIRS + unrecorded["import"]}
    assert world.rlcm("plan", "--detailed-exitcode").exit_code == 0


@pytest.mark.slow
def test_ctrl_c_finishes_in_flight_imports_and_a_rerun_completes(tmp_path: Path) -> None:
    world = _slow_world(tmp_path)
    proc = world.popen("apply", "--auto-approve", "--report", str(tmp_path / "r.json"))
    _wait_for(proc, lambda: count(world.log(), "import") >= MAX_PARALLEL + 1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 3, err
    assert "Stopping: no new steps start" in err
    assert "interrupted" in out
    state = _state(world)
    jobs = world.sim.jobs("import")
    # every import that was started finished its poll and was recorded
    assert {j["id"] for j in jobs} == {r.import_id for r in state.imports.values()}
    assert {r.status for r in state.imports.values()} == {"completed"}
    assert MAX_PARALLEL + 1 <= len(jobs) < PAIRS
    import json

    steps = json.loads((tmp_path / "r.json").read_text())["steps"]
    interrupted = [s for s in steps if s["status"] == "interrupted"]
    assert len(interrupted) == PAIRS - len(jobs)
    assert all("interrupted" in s["message"] for s in interrupted)

    rerun = world.apply()

    assert rerun.exit_code == 0, rerun.stderr
    assert len(world.sim.jobs("import")) == PAIRS
    assert world.rlcm("plan", "--detailed-exitcode").exit_code == 0


@pytest.mark.slow
def test_a_second_ctrl_c_aborts_and_a_rerun_polls_what_was_started(tmp_path: Path) -> None:
    world = _slow_world(tmp_path)
    proc = world.popen("apply", "--auto-approve", "-q")
    _wait_for(proc, lambda: count(world.log(), "import") >= 2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "Error: apply aborted by a second Ctrl-C" in err
    assert "Traceback" not in err
    started = {r.import_id for r in _state(world).imports.values() if r.status == "in_progress"}
    world.sim.clear_request_log()

    rerun = world.apply()

    assert rerun.exit_code == 0, rerun.stderr
    polled = {r.path.rsplit("/", 1)[1] for r in world.log() if r.kind == "import_status"}
    assert {str(i) for i in started} <= polled
    assert len(world.sim.jobs("import")) == PAIRS


@pytest.mark.slow
def test_sigterm_stops_like_the_first_ctrl_c_and_releases_the_lock(tmp_path: Path) -> None:
    """A CI cancel sends SIGTERM: nothing new starts, in-flight imports are recorded, the
    lock is released, and the exit code is the first Ctrl-C's (3)."""
    world = _slow_world(tmp_path)
    proc = world.popen("apply", "--auto-approve", "-q")
    _wait_for(proc, lambda: count(world.log(), "import") >= 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 3, err
    assert "Stopping (SIGTERM): no new steps start" in err
    assert "Traceback" not in err
    assert not world.state_path.with_name(world.state_path.name + ".lock").exists()
    state = _state(world)
    assert {j["id"] for j in world.sim.jobs("import")} == {
        r.import_id for r in state.imports.values()
    }
    assert {r.status for r in state.imports.values()} == {"completed"}


@pytest.mark.slow
def test_sigterm_before_the_run_starts_releases_the_lock_and_exits_130(tmp_path: Path) -> None:
    world = _slow_world(tmp_path)
    world.sim.set_latency(0.3)  # still refreshing when the signal lands
    proc = world.popen("apply", "--auto-approve", "-q")
    lock = world.state_path.with_name(world.state_path.name + ".lock")
    _wait_for(proc, lock.exists)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not lock.exists()
    assert not world.sim.jobs("import")

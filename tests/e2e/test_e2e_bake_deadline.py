"""A bake against `rlcm apply --max-duration`, and which exit code wins when a gate halts
and the deadline is reached too.

A bake that would end after the deadline is not waited out: the later waves are not
started (exit 4: run again to continue), and the wave's record says its bake is still to
be done (`baked: false`), so the next apply, with or without `--wave`, waits for what is
left of it and asks its health gate before any later wave starts. A halting gate or a
failed step wins over the deadline: exit 3, the report naming both once each.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from apply_fixtures import World
from test_e2e_bake import CANARY_FOLDER, baked, fixed_world, main_imports


def _report(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_a_bake_past_the_deadline_stops_at_once_and_the_next_apply_finishes_it(
    tmp_path: Path,
) -> None:
    world = fixed_world(tmp_path)
    baked(world, "6s")
    report = tmp_path / "r.json"

    started = time.monotonic()
    stopped = world.apply("--max-duration", "5s", "--report", report)

    assert stopped.exit_code == 4, stopped.stdout + stopped.stderr
    assert time.monotonic() - started < 5  # did not sleep into the deadline
    # said before it started: the estimate counts the bake
    assert "and the bake of wave canary (6 s)" in stopped.stderr
    assert "more than --max-duration 5s leaves" in stopped.stderr
    assert main_imports(world) == []
    data = _report(report)
    assert data["halted_by"] is None
    assert data["deadline"] == (
        "stopped at the --max-duration deadline (5s): 36 step(s) not started (the 6s bake of "
        "wave canary would end after --max-duration 5s); run `rlcm apply` again to continue"
    )
    steps = data["steps"]
    assert isinstance(steps, list)
    waiting = [s for s in steps if s["status"] == "interrupted"]
    assert {s["wave"] for s in waiting} == {"main"}
    assert all("the 6s bake of wave canary would end after" in s["message"] for s in waiting)
    canary = json.loads(world.state_path.read_text())["waves"]["canary"]
    assert canary["passed"] is True and canary["baked"] is False
    assert stopped.stdout.count("stopped at the --max-duration deadline") == 1

    # the next apply, without --wave and without a deadline: what is left of the bake first
    again = world.apply()
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "Waiting" in again.stderr and "for the bake of wave canary to end" in again.stderr
    canary_done = max(
        j["finished"]
        for j in world.sim.jobs("import")
        if int(j["params"]["folder_id"]) == CANARY_FOLDER
    )
    assert min(j["created"] for j in main_imports(world)) - canary_done >= 6
    assert json.loads(world.state_path.read_text())["waves"]["canary"]["baked"] is True


def test_the_next_apply_asks_the_health_gate_of_a_bake_the_deadline_cut(tmp_path: Path) -> None:
    world = fixed_world(tmp_path)
    baked(world, "3s")
    assert world.apply("--max-duration", "2s").exit_code == 4
    world.sim.stop_recipe("E-acme-001", "Sync accounts", cause="trigger_errors_limit")

    again = world.apply("--report", tmp_path / "r.json")

    assert again.exit_code == 3, again.stdout + again.stderr
    assert main_imports(world) == []
    data = _report(tmp_path / "r.json")
    assert data["halted_by"] == "health"
    assert "recipe Sync accounts stopped with an error (trigger_errors_limit)" in str(
        data["halt_reason"]
    )


def test_a_later_wave_job_whose_earlier_bake_outlasts_the_deadline_exits_4_at_once(
    tmp_path: Path,
) -> None:
    world = fixed_world(tmp_path)
    baked(world, "1h")
    assert world.apply("--wave", "canary").exit_code == 0

    started = time.monotonic()
    run = world.apply("--wave", "main", "--max-duration", "30m", "--report", tmp_path / "r.json")

    assert run.exit_code == 4, run.stdout + run.stderr
    assert time.monotonic() - started < 30
    assert main_imports(world) == []
    data = _report(tmp_path / "r.json")
    assert "the bake of wave canary ends in 1 h" in str(data["deadline"])
    assert "after --max-duration 30m" in str(data["deadline"])


def test_a_failed_gate_wins_over_the_deadline(tmp_path: Path) -> None:
    """The canary's gate failed and its bake would outlast the deadline: exit 3, the gate
    named; a run again would not get past the gate, so it is not exit 4."""
    world = World(tmp_path / "w")  # E-umbrella fails by design
    world.write(
        "rollout.yaml",
        "kind: Rollout\nwaves:\n  - {name: canary, bake: 1h}\n  - main\n",
    )
    world.sim.fail_next_import("E-acme-001", CANARY_FOLDER, {"Sync accounts": "stop_failed"})
    assert world.apply("--wave", "canary").exit_code == 3

    run = world.apply("--wave", "main", "--max-duration", "30m", "--report", tmp_path / "r.json")

    assert run.exit_code == 3, run.stdout + run.stderr
    data = _report(tmp_path / "r.json")
    assert data["halted_by"] == "wave" and data["exit_code"] == 3
    assert "the gate of wave canary stopped wave main" in str(data["halt_reason"])


def test_the_estimate_counts_a_bake_before_a_later_wave(tmp_path: Path) -> None:
    world = fixed_world(tmp_path)
    baked(world, "15m")

    whole = json.loads(world.rlcm("plan", "--format", "json").stdout)["estimate"]
    canary = json.loads(world.rlcm("plan", "--wave", "canary", "--format", "json").stdout)

    assert whole["binding"].endswith(", and the bake of wave canary (15 min)"), whole
    assert 900 <= whole["seconds"] < 960
    assert whole["text"].endswith("at least 16 min") or whole["text"].endswith("at least 15 min")
    # the canary's job alone waits no bake (the main job waits what is left of it)
    assert "bake" not in canary["estimate"]["binding"]
    assert canary["estimate"]["seconds"] < 60

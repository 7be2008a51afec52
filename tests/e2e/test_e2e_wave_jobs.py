"""Waves as separate CI jobs: `rlcm apply --wave NAME` (or a plan saved with `--wave`) runs
one wave, and only once the earlier waves passed their gates, so `--wave canary` then
`--wave main` behave as one apply with a pause between them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from apply_fixtures import World, count

FAIL = {"Sync accounts": "stop_failed"}
CANARY_FOLDER = 1827


def import_folders(world: World) -> list[int]:
    return sorted(int(job["params"]["folder_id"]) for job in world.sim.jobs("import"))


def report_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def fixed_world(tmp_path: Path, name: str) -> World:
    world = World(tmp_path / name)
    world.sim.stop_recipe("E-umbrella", "Sync accounts")  # every import succeeds
    return world


def test_canary_then_main_as_two_runs_equal_one_apply(tmp_path: Path) -> None:
    one = fixed_world(tmp_path, "one")
    two = fixed_world(tmp_path, "two")

    assert one.apply().exit_code == 0
    canary = two.apply("--wave", "canary")
    after_canary = import_folders(two)
    main = two.apply("--wave", "main")

    assert (canary.exit_code, main.exit_code) == (0, 0), canary.stderr + main.stderr
    assert after_canary == [CANARY_FOLDER] * 3
    assert import_folders(two) == import_folders(one)
    assert count(two.log(), "export") == 3  # one export per manifest, in the canary run
    assert count(two.log(), "manifest_create") == 3
    state = json.loads(two.state_path.read_text())
    assert {w: r["passed"] for w, r in state["waves"].items()} == {"canary": True, "main": True}
    assert two.rlcm("plan", "--detailed-exitcode").exit_code == 0


def test_main_does_not_start_before_the_canary_ran(tmp_path: Path) -> None:
    world = fixed_world(tmp_path, "w")

    run = world.apply("--wave", "main", "--report", tmp_path / "r.json")

    assert run.exit_code == 3
    assert import_folders(world) == []
    assert count(world.log(), "manifest_create") == 0  # nothing changed at all
    report = report_of(tmp_path / "r.json")
    assert report["halted_after_wave"] == "canary"
    assert report["halt_reason"].startswith(
        "wave canary is not done, so wave main does not start: 3 imports planned "
        "(import.shared-connections@acme, import.crm-sync@acme, import.billing-alerts@acme)"
    )
    assert {s["message"] for s in report["steps"]} == {"not started: wave canary is not done"}
    assert run.stdout.count("so wave main does not start") == 1  # the reason, once


def test_a_canary_over_its_gate_stops_the_main_job(tmp_path: Path) -> None:
    world = fixed_world(tmp_path, "w")
    world.sim.fail_next_import("E-acme-001", CANARY_FOLDER, FAIL)

    canary = world.apply("--wave", "canary")
    main = world.apply("--wave", "main", "--report", tmp_path / "r.json")

    assert (canary.exit_code, main.exit_code) == (3, 3)
    assert set(import_folders(world)) == {CANARY_FOLDER}
    assert json.loads(world.state_path.read_text())["waves"]["canary"]["passed"] is False
    reason = report_of(tmp_path / "r.json")["halt_reason"]
    assert reason.startswith("the gate of wave canary stopped wave main: its last run")
    assert "1 of 1 targets failed (acme)" in reason


def test_a_canary_failure_within_budget_lets_the_main_job_run(tmp_path: Path) -> None:
    world = fixed_world(tmp_path, "w")
    world.write("rollout.yaml", "kind: Rollout\nwaves: [{name: canary, max_failures: 1}, main]\n")
    world.sim.fail_next_import("E-acme-001", CANARY_FOLDER, FAIL)

    assert world.apply("--wave", "canary").exit_code == 3  # its import failed
    main = world.apply("--wave", "main")

    assert main.exit_code == 0, main.stdout + main.stderr
    assert len([f for f in import_folders(world) if f != CANARY_FOLDER]) == 36


def test_plans_saved_per_wave_are_applied_one_wave_each(tmp_path: Path) -> None:
    world = fixed_world(tmp_path, "w")
    canary_plan, main_plan = tmp_path / "canary.json", tmp_path / "main.json"

    assert world.rlcm("plan", "--wave", "canary", "--out", canary_plan).exit_code == 0
    saved = json.loads(canary_plan.read_text())
    assert saved["wave"] == "canary"
    assert {c["wave"] for c in saved["changes"] if c["kind"] == "import"} == {"canary"}
    assert world.rlcm("apply", canary_plan).exit_code == 0
    early = world.rlcm("plan", "--wave", "main")
    assert "apply would not start this wave yet" not in early.stderr
    assert world.rlcm("plan", "--wave", "main", "--out", main_plan).exit_code == 0
    run = world.rlcm("apply", main_plan)

    assert run.exit_code == 0, run.stderr
    assert len(import_folders(world)) == 39


def test_plan_of_a_later_wave_warns_that_apply_would_wait(tmp_path: Path) -> None:
    world = fixed_world(tmp_path, "w")

    run = world.rlcm("plan", "--wave", "main")

    assert run.exit_code == 0
    assert "Warning: apply would not start this wave yet: wave canary is not done" in run.stderr
    assert "+ import.crm-sync@acme" not in run.stdout  # only main's changes are shown


def test_an_unknown_wave_is_an_error(tmp_path: Path) -> None:
    world = World(tmp_path)

    run = world.apply("--wave", "canery")

    assert run.exit_code == 1
    assert "--wave canery: the rollout has no such wave (waves: canary, main)" in run.stderr

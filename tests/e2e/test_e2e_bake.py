"""Bake time and health gates: a wave with `bake:` makes the next one wait, and its
recipes' health at the end of the bake decides whether the next wave starts.

The bakes are a few seconds long. A recipe is stopped "by Workato" during the bake with the
simulator's `stop_recipe(cause=...)` while `rlcm apply` runs as a child process.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from apply_fixtures import World

CANARY_FOLDER = 1827


def baked(world: World, bake: str, health: str = "") -> None:
    extra = f", health: {{{health}}}" if health else ""
    world.write(
        "rollout.yaml",
        f"kind: Rollout\nwaves:\n  - {{name: canary, bake: {bake}{extra}}}\n  - main\n",
    )


def fixed_world(tmp_path: Path) -> World:
    world = World(tmp_path / "w")
    world.sim.stop_recipe("E-umbrella", "Sync accounts")  # every import succeeds
    return world


def main_imports(world: World) -> list[dict[str, Any]]:
    return [j for j in world.sim.jobs("import") if int(j["params"]["folder_id"]) != CANARY_FOLDER]


def wait_for_wave(world: World, wave: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if world.state_path.exists():
            try:
                if wave in json.loads(world.state_path.read_text()).get("waves", {}):
                    return
            except ValueError:
                pass  # written atomically, but read between checks
        time.sleep(0.05)
    raise AssertionError(f"wave {wave} never finished")


def test_a_recipe_stopped_during_the_bake_halts_the_next_wave(tmp_path: Path) -> None:
    world = fixed_world(tmp_path)
    baked(world, "4s")
    report = tmp_path / "r.json"

    proc = world.popen("apply", "--auto-approve", "-q", "--report", str(report))
    wait_for_wave(world, "canary")
    world.sim.stop_recipe("E-acme-001", "Sync accounts", cause="trigger_errors_limit")
    _out, err = proc.communicate(timeout=60)

    assert proc.returncode == 3, err
    assert main_imports(world) == []
    data = json.loads(report.read_text())
    assert data["halted_by"] == "health"
    assert data["halt_reason"] == (
        "the health gate of wave canary after its 4s bake stopped wave main: acme: recipe "
        "Sync accounts stopped with an error (trigger_errors_limit) (1 of 1 target failed, "
        "max_failures is 0)"
    )
    state = json.loads(world.state_path.read_text())
    assert state["waves"]["canary"]["passed"] is False
    assert state["waves"]["canary"]["failed_targets"] == ["acme"]


def test_a_healthy_bake_lets_the_next_wave_start_after_it(tmp_path: Path) -> None:
    world = fixed_world(tmp_path)
    baked(world, "1500ms")

    run = world.apply()

    assert run.exit_code == 0, run.stdout + run.stderr
    canary = [j for j in world.sim.jobs("import") if int(j["params"]["folder_id"]) == CANARY_FOLDER]
    gap = min(j["created"] for j in main_imports(world)) - max(j["finished"] for j in canary)
    assert gap >= 1.5  # the bake, in the simulator's clock (time scale 1)
    assert len(main_imports(world)) == 36
    assert "wave canary baking for 1.5s; its recipes' health is checked then" in run.stderr


def test_new_failed_jobs_over_the_limit_fail_the_health_gate(tmp_path: Path) -> None:
    world = fixed_world(tmp_path)
    baked(world, "3s", "max_new_failed_jobs: 2")
    report = tmp_path / "r.json"

    proc = world.popen("apply", "--auto-approve", "-q", "--report", str(report))
    wait_for_wave(world, "canary")
    world.sim.add_jobs("E-acme-001", "Sync accounts", failed=3)
    _out, err = proc.communicate(timeout=60)

    assert proc.returncode == 3, err
    assert (
        "acme: 3 new failed jobs (max_new_failed_jobs is 2)"
        in json.loads(report.read_text())["halt_reason"]
    )


@pytest.mark.parametrize("jobs", ["one apply", "wave jobs"])
def test_a_failed_health_gate_holds_the_next_wave_until_its_recipes_are_fixed(
    tmp_path: Path, jobs: str
) -> None:
    """The canary's health gate failed (its imports all succeeded, so a re-run has nothing
    to import there): every later run asks the canary's health again before main starts,
    and main runs once the recipe runs again."""
    world = fixed_world(tmp_path)
    baked(world, "3s")
    proc = world.popen("apply", "--auto-approve", "-q")
    wait_for_wave(world, "canary")
    world.sim.stop_recipe("E-acme-001", "Sync accounts", cause="trigger_errors_limit")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert json.loads(world.state_path.read_text())["waves"]["canary"]["passed"] is False

    main = ("--wave", "main") if jobs == "wave jobs" else ()
    if jobs == "wave jobs":
        assert "No changes in wave canary" in world.apply("--wave", "canary").stdout
    again = world.apply(*main, "--report", tmp_path / "again.json")
    assert again.exit_code == 3, again.stdout + again.stderr
    assert main_imports(world) == []
    reason = json.loads((tmp_path / "again.json").read_text())["halt_reason"]
    assert "the health gate of wave canary" in reason and "Sync accounts" in reason

    world.sim.start_recipe("E-acme-001", "Sync accounts")
    fixed = world.apply(*main)
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert len(main_imports(world)) == 36
    assert json.loads(world.state_path.read_text())["waves"]["canary"]["passed"] is True


@pytest.mark.parametrize("mode", ["sim", "http"])
def test_the_main_job_waits_out_the_canary_bake_then_checks_health(
    tmp_path: Path, mode: str
) -> None:
    world = fixed_world(tmp_path)
    baked(world, "3s")

    with world.over_http() if mode == "http" else contextlib.nullcontext():
        assert world.apply("--wave", "canary").exit_code == 0
        ended = time.monotonic()
        world.sim.stop_recipe("E-acme-001", "Sync contacts", cause="action_quota_limit")
        run = world.apply("--wave", "main", "--report", tmp_path / "r.json")

    assert time.monotonic() - ended >= 2  # waited for what was left of the bake
    assert run.exit_code == 3
    assert main_imports(world) == []
    reason = json.loads((tmp_path / "r.json").read_text())["halt_reason"]
    assert "recipe Sync contacts stopped with an error (action_quota_limit)" in reason
    assert "Waiting" in run.stderr and "bake of wave canary" in run.stderr


def test_a_healthy_canary_bake_lets_the_main_job_run(tmp_path: Path) -> None:
    world = fixed_world(tmp_path)
    baked(world, "1s")

    assert world.apply("--wave", "canary").exit_code == 0
    run = world.apply("--wave", "main")

    assert run.exit_code == 0, run.stdout + run.stderr
    assert len(main_imports(world)) == 36


def test_a_bad_bake_is_an_error_with_its_position(tmp_path: Path) -> None:
    world = World(tmp_path)
    baked(world, "15 minutes")

    run = world.rlcm("validate")

    assert run.exit_code == 1
    assert "rollout.yaml:3:" in run.stderr
    assert "a duration such as 2s, 90s, 15m, 1h or 1h30m" in run.stderr

"""The state file through real runs: valid after a run, never broken by a killed apply,
and guarded by the lock (writers refuse and name the holder; readers still work)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_world import DemoWorld, RunCli

from reconciler.state.model import State

HOLDER = """
import sys, time
from pathlib import Path
from reconciler.state.store import StateStore

with StateStore(Path(sys.argv[1])).lock("apply"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_state_after_a_run_parses_and_validates(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    raw = json.loads(applied_config.state_path.read_text(encoding="utf-8"))
    state = State.model_validate(raw)
    assert state.serial > 0
    assert set(state.manifests) == {"shared-connections", "crm-sync", "billing-alerts"}
    assert len(state.imports) == 39
    assert all(r.status == "completed" for r in state.imports.values())
    # one baseline per target, read through the Recipes API after its imports
    assert len(state.baselines) == 13
    assert all(state.baseline_of(r) is not None for r in state.imports.values())
    assert "demo-token" not in applied_config.state_path.read_text(encoding="utf-8")
    listed = run_cli("state", "list")
    assert listed.exit_code == 0
    assert "import.crm-sync@acme" in listed.stdout


@pytest.fixture
def lock_holder(demo_config: DemoWorld) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(demo_config.state_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    yield holder
    holder.kill()
    holder.wait()
    holder.stdout.close()


def test_writers_refuse_a_held_lock_and_name_the_holder(
    demo_config: DemoWorld, run_cli: RunCli, lock_holder: subprocess.Popen[str]
) -> None:
    apply = run_cli("apply", "--auto-approve")
    assert apply.exit_code == 1
    assert "state is locked by" in apply.stderr
    assert f"pid {lock_holder.pid}" in apply.stderr
    assert "apply" in apply.stderr
    planfile = demo_config.root / "plan.json"
    saved = run_cli("plan", "--out", str(planfile))
    assert saved.exit_code == 1
    assert f"pid {lock_holder.pid}" in saved.stderr
    assert not planfile.exists()
    assert not demo_config.state_path.exists()


def test_readers_work_while_the_lock_is_held(
    demo_config: DemoWorld, run_cli: RunCli, lock_holder: subprocess.Popen[str]
) -> None:
    plan = run_cli("plan")
    assert plan.exit_code == 0, plan.stderr
    assert "3 manifests to create" in plan.stdout
    drift = run_cli("drift")
    assert drift.exit_code == 2, drift.stderr
    assert "never imported" in drift.stdout


def test_a_killed_apply_leaves_a_valid_state_and_resumes(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    world = demo_config
    world.sim.stop_recipe("E-umbrella", "Sync accounts")
    world.sim.set_job_timing(polls=4)  # slower jobs: the kill lands mid-run
    env = {**os.environ, "WORKATO_API_TOKEN": "demo-token"}
    command = [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "-q"]
    apply = subprocess.Popen(
        [*command, "-c", str(world.root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until some imports are recorded
        if world.state_path.exists() and len(_state(world.state_path).imports) >= 3:
            break
        time.sleep(0.01)
    apply.send_signal(signal.SIGKILL)
    apply.wait()
    killed = _state(world.state_path)  # parses and validates
    assert 3 <= len(killed.imports) < 39, "the kill landed after the apply finished"
    world.sim.set_job_timing(polls=1)
    again = run_cli("apply", "--auto-approve", "-q")
    assert again.exit_code == 0, again.stderr
    resumed = world.state()
    assert len(resumed.imports) == 39
    assert {n: m.id for n, m in resumed.manifests.items()} == {
        n: m.id for n, m in killed.manifests.items() if n in resumed.manifests
    }  # nothing created twice
    assert run_cli("plan", "--detailed-exitcode").exit_code == 0


def _state(path: Path) -> State:
    return State.model_validate(json.loads(path.read_text(encoding="utf-8")))

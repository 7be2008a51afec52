"""Identical inputs give byte-identical plans, and a saved plan re-renders identically."""

from __future__ import annotations

import json

import pytest
from e2e_world import TEMPLATE, DemoWorld, RunCli


def test_identical_inputs_give_identical_json(demo_config: DemoWorld, run_cli: RunCli) -> None:
    first = run_cli("plan", "--format", "json")
    second = run_cli("plan", "--format", "json")
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout


def test_identical_inputs_after_drift_give_identical_json(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    applied_config.sim.bump_recipe_version(TEMPLATE, "Sync contacts")
    applied_config.sim.change_asset("E-globex", "Sync accounts", folder_id=2211)
    first, second = (run_cli("plan", "--format", "json").stdout for _ in range(2))
    assert first == second
    assert json.loads(first)["changes"]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_a_saved_plan_renders_as_the_plan_did(
    demo_config: DemoWorld, run_cli: RunCli, fmt: str
) -> None:
    planfile = demo_config.root / "plan.json"
    saved = run_cli("plan", "--out", str(planfile), "--format", "json")
    assert saved.exit_code == 0, saved.stderr
    assert planfile.read_text(encoding="utf-8") == saved.stdout
    original = run_cli("plan", "--format", fmt)
    shown = run_cli("show", str(planfile), "--format", fmt)
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout == original.stdout


def test_plan_out_in_text_says_where_it_saved(demo_config: DemoWorld, run_cli: RunCli) -> None:
    planfile = demo_config.root / "saved.json"
    result = run_cli("plan", "--out", str(planfile))
    assert result.exit_code == 0
    assert f"Saved the plan to {planfile}" in result.stdout
    assert json.loads(planfile.read_text(encoding="utf-8"))["kind"] == "rlcm-plan"


def test_show_refuses_a_file_that_is_not_a_plan(demo_config: DemoWorld, run_cli: RunCli) -> None:
    bogus = demo_config.root / "bogus.json"
    bogus.write_text("{not json", encoding="utf-8")
    result = run_cli("show", str(bogus))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "bogus.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("show", str(demo_config.root / "missing.json"))
    assert missing.exit_code == 1
    assert "missing.json" in missing.stderr


def test_a_saved_plan_is_applied_then_refused_as_stale(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    planfile = demo_config.root / "plan.json"
    assert run_cli("plan", "--out", str(planfile), "--target", "*@acme").exit_code == 0
    demo_config.sim.bump_recipe_version(TEMPLATE, "Sync contacts")
    stale = run_cli("apply", str(planfile))
    assert stale.exit_code == 1
    assert "stale" in stale.stderr
    assert not demo_config.state_path.exists() or not demo_config.state().manifests


def test_a_first_saved_plan_applies_exactly(demo_config: DemoWorld, run_cli: RunCli) -> None:
    """plan on the PR, apply on merge, on the very first run (no state file yet)."""
    demo_config.sim.stop_recipe("E-umbrella", "Sync accounts")
    planfile = demo_config.root / "plan.json"
    assert run_cli("plan", "--out", str(planfile)).exit_code == 0
    assert not demo_config.state_path.exists()
    applied = run_cli("apply", str(planfile), "-q")
    assert applied.exit_code == 0, applied.stderr
    assert run_cli("plan", "--detailed-exitcode").exit_code == 0
    again = run_cli("apply", str(planfile))
    assert again.exit_code == 1
    assert "stale" in again.stderr

"""Per-target reads go through the Recipes API: plan and apply spend O(manifests) calls
of the scarce 60/minute bucket; drift reads the other assets with folder_assets and records
their first baseline; a format 1 state file plans and drifts as it did."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from e2e_world import DemoWorld, RunCli

OTHER = {"folder_assets", "manifest_view", "manifest_create", "manifest_update", "export",
         "export_status", "download"}  # fmt: skip


def _calls(world: DemoWorld) -> Counter[str]:
    return Counter(r.kind or "unknown" for r in world.sim.request_log())


def test_plan_reads_every_target_through_the_recipes_api(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    world = applied_config
    world.sim.clear_request_log()
    result = run_cli("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout + result.stderr
    calls = _calls(world)
    # three source folders and three manifest views: nothing per target in that bucket
    assert (calls["folder_assets"], calls["manifest_view"]) == (3, 3)
    assert calls["recipes_list"] == 13 and calls["recipe_view"] == 0
    assert sum(n for kind, n in calls.items() if kind in OTHER) == 6


def test_apply_records_one_baseline_per_target_from_the_recipes_api(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    world = demo_config
    result = run_cli("apply", "--auto-approve", "-q")
    assert result.exit_code == 3, result.stdout + result.stderr  # umbrella fails on purpose
    calls = _calls(world)
    assert calls["folder_assets"] == 3  # the source folders, before planning
    # a baseline per target, umbrella's failure named, and the plan's pre-flight of the 13
    # never-imported targets' customers (live/preflight.py)
    assert calls["recipes_list"] == 13 + 1 + 13
    state = world.state()
    assert len(state.baselines) == 13
    acme = state.baselines["acme"]
    assert {r.name for r in acme.recipes} == {
        "Sync accounts", "Sync contacts", "Invoice overdue alert", "Payment failed alert",
    }  # fmt: skip
    assert acme.assets is None  # other assets: first read by drift
    assert all(r.running is False and r.job_failed_count == 0 for r in acme.recipes)
    assert set(acme.imports) == {"shared-connections", "crm-sync", "billing-alerts"}
    umbrella = state.baselines["E-umbrella/2401"]
    assert "crm-sync" not in umbrella.imports  # its import failed: no baseline for it
    assert state.imports["crm-sync@E-umbrella/2401"].status == "failed"


def test_drift_records_the_baseline_of_other_assets_once_then_checks_it(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    world = applied_config
    world.sim.clear_request_log()
    first = run_cli("drift")
    assert first.exit_code == 0, first.stdout + first.stderr
    assert "13 target(s) had no baseline of their assets other than recipes" in first.stdout
    assert _calls(world)["folder_assets"] == 3 + 13  # source folders, then each target
    state = world.state()
    assert all(b.assets is not None for b in state.baselines.values())
    assert {a.name for a in state.baselines["acme"].assets or []} >= {"Region codes"}
    again = run_cli("drift")
    assert again.exit_code == 0 and "no baseline" not in again.stdout
    world.sim.change_asset("E-globex", "Region codes", folder_id=2211)
    drifted = run_cli("drift", "--format", "json")
    assert drifted.exit_code == 2, drifted.stdout + drifted.stderr
    [finding] = json.loads(drifted.stdout)["findings"]
    assert (finding["kind"], finding["address"]) == (
        "target_changed",
        "import.shared-connections@E-globex/2211",
    )
    assert "lookup_table Region codes: version 1 -> 2 in the target folder" in finding["message"]


def _as_format_1(data: dict[str, Any]) -> dict[str, Any]:
    """The state a format 1 rlcm would have written: a folder copy in each import record."""
    baselines = data.pop("baselines")
    for record in data["imports"].values():
        baseline = baselines[record["target"]]
        recipes = [
            {"type": "recipe", "name": r["name"], "version": r["version"], "id": r["id"],
             "folder": ""}
            for r in baseline["recipes"]
        ]  # fmt: skip
        record["folder_after"] = recipes + (baseline["assets"] or [])
    data["format_version"] = 1
    return data


def test_a_format_1_state_file_plans_and_drifts_as_before(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    world = applied_config
    assert run_cli("drift").exit_code == 0  # records the other assets' baseline
    data = json.loads(world.state_path.read_text(encoding="utf-8"))
    world.state_path.write_text(json.dumps(_as_format_1(data)), encoding="utf-8")
    plan = run_cli("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert run_cli("drift").exit_code == 0
    world.sim.change_asset("E-globex", "Sync contacts", folder_id=2211)
    changes = json.loads(run_cli("plan", "--format", "json").stdout)["changes"]
    assert [c["address"] for c in changes] == ["import.crm-sync@E-globex/2211"]
    apply = run_cli("apply", "--auto-approve", "-q")
    assert apply.exit_code == 0, apply.stdout + apply.stderr
    written = json.loads(world.state_path.read_text(encoding="utf-8"))
    assert written["format_version"] == 2 and len(written["baselines"]) == 13
    assert all("folder_after" not in r for r in written["imports"].values())


def test_recipe_reads_are_retried_and_a_lasting_failure_is_one_clear_line(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    world = applied_config
    world.sim.inject_fault("recipes_list", "503", count=2)
    world.sim.inject_fault("recipes_list", "drop", count=1)
    plan = run_cli("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr  # retried: no change, no error
    world.sim.clear_faults()
    world.sim.inject_fault("recipes_list", "500", count=100)
    failed = run_cli("plan")
    assert failed.exit_code == 1
    [line] = failed.stderr.strip().splitlines()
    # the target it was for (file:line: whichever target's read failed first), then the
    # call and its answer
    said = re.fullmatch(
        r"Error: target (\S+) \(\S+\.yaml:\d+:\d+\): reading its recipes in folder (\d+): "
        r"GET /api/managed_users/(\S+)/recipes \(500\): .+",
        line,
    )
    assert said is not None, line
    target, folder, customer = said.groups()
    assert target == f"{customer}/{folder}" or target.startswith(customer), line
    assert "demo-token" not in failed.stderr


@pytest.mark.parametrize("shape", ["items", "bare"])
def test_plan_and_drift_read_recipe_lists_in_every_shape(
    applied_config: DemoWorld, run_cli: RunCli, shape: str
) -> None:
    world = applied_config
    world.sim.set_recipes_shape(shape)
    assert run_cli("plan", "--detailed-exitcode").exit_code == 0
    world.sim.change_asset("E-globex", "Sync contacts", folder_id=2211)
    changes = json.loads(run_cli("plan", "--format", "json").stdout)["changes"]
    assert [c["address"] for c in changes] == ["import.crm-sync@E-globex/2211"]
    drift = run_cli("drift", "--format", "json")
    assert drift.exit_code == 2
    [finding] = json.loads(drift.stdout)["findings"]
    assert "recipe Sync contacts: version 2 -> 3 in the target folder" in finding["message"]

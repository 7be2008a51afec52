"""Each drift class, made with the simulator's UI-edit controls after an apply, shows in
both `rlcm plan` (with the right reason) and `rlcm drift` (with the right kind, exit 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from e2e_world import TEMPLATE, DemoWorld, RunCli, add_source_asset

Edit = Callable[[DemoWorld], None]


def _plan(run_cli: RunCli) -> dict[str, dict[str, object]]:
    result = run_cli("plan", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return {c["address"]: c for c in json.loads(result.stdout)["changes"]}


def _drift(run_cli: RunCli) -> list[dict[str, object]]:
    result = run_cli("drift", "--format", "json")
    assert result.exit_code == 2, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["kind"] == "rlcm-drift"
    assert isinstance(doc["format_version"], int)
    findings: list[dict[str, object]] = doc["findings"]
    return findings


def _list(value: object) -> list[Any]:
    """A JSON array of the plan or drift document."""
    assert isinstance(value, list), value
    return value


def _imports_of(changes: dict[str, dict[str, object]], manifest: str) -> set[str]:
    return {a for a in changes if a.startswith(f"import.{manifest}@")}


def test_nothing_moved_means_no_drift(applied_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("drift")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "No drift." in result.stdout
    doc = json.loads(run_cli("drift", "--format", "json").stdout)
    assert doc["findings"] == []


def test_manifest_edited_in_the_ui(applied_config: DemoWorld, run_cli: RunCli) -> None:
    world = applied_config
    world.sim.edit_manifest(TEMPLATE, world.manifest_id("crm-sync"), include_tags=False)
    changes = _plan(run_cli)
    assert set(changes) == {"manifest.crm-sync"}
    change = changes["manifest.crm-sync"]
    assert change["action"] == "update"
    assert change["reasons"] == ["edited in the Workato UI: include_tags changed to false"]
    # the plan puts the recorded value back: live false -> true
    assert {"path": "include_tags", "change": "changed", "before": False, "after": True,
            "source": "live"} in _list(change["details"])  # fmt: skip
    [finding] = _drift(run_cli)
    assert finding["kind"] == "manifest_edited"
    assert finding["address"] == "manifest.crm-sync"
    # drift reads as the edit did: recorded true -> live false
    assert {"path": "include_tags", "change": "changed", "before": True, "after": False} in (
        _list(finding["details"])
    )


def test_manifest_assets_edited_in_the_ui_read_one_way(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    world = applied_config
    manifest_id = world.manifest_id("crm-sync")
    live = world.sim.manifest(TEMPLATE, manifest_id)
    assert live is not None
    assets = [a for a in live["assets"] if a["name"] != "Sync contacts"]
    world.sim.edit_manifest(TEMPLATE, manifest_id, assets=assets, include_tags=False)
    plan = run_cli("plan").stdout
    assert "~ include_tags: false -> true (live)" in plan
    assert "+ assets[recipe:Sync contacts] (live)" in plan  # apply puts it back
    drift = run_cli("drift").stdout
    assert "~ include_tags: true -> false" in drift
    assert "- assets[recipe:Sync contacts]" in drift  # the UI removed it


def test_manifest_archived_is_recreated(applied_config: DemoWorld, run_cli: RunCli) -> None:
    world = applied_config
    manifest_id = world.manifest_id("crm-sync")
    world.sim.archive_manifest(TEMPLATE, manifest_id)
    changes = _plan(run_cli)
    assert changes["manifest.crm-sync"]["action"] == "recreate"
    assert "archived" in str(changes["manifest.crm-sync"]["reasons"])
    assert "export.crm-sync" in changes
    assert len(_imports_of(changes, "crm-sync")) == 13
    assert not _imports_of(changes, "billing-alerts")
    text = run_cli("plan").stdout
    assert "± manifest.crm-sync" in text
    assert "1 manifest to recreate" in text
    [finding] = _drift(run_cli)
    assert finding["kind"] == "manifest_archived"
    assert finding["message"] == f"live manifest {manifest_id} was archived"


def test_unpinned_source_recipe_bumped(applied_config: DemoWorld, run_cli: RunCli) -> None:
    assert applied_config.sim.bump_recipe_version(TEMPLATE, "Sync contacts") == 3
    changes = _plan(run_cli)
    assert "manifest.crm-sync" not in changes
    assert changes["export.crm-sync"]["reasons"] == ["recipe Sync contacts: version 2 -> 3"]
    assert _imports_of(changes, "crm-sync") == {a for a in changes if a.startswith("import.")}
    assert len(_imports_of(changes, "crm-sync")) == 13
    [finding] = _drift(run_cli)
    assert finding["kind"] == "source_newer"
    assert finding["address"] == "export.crm-sync"
    assert "recipe Sync contacts: version 2 -> 3" in str(finding["message"])


def test_pinned_source_recipe_bumped_changes_nothing(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    assert applied_config.sim.bump_recipe_version(TEMPLATE, "Sync accounts") == 5
    result = run_cli("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout
    assert "No changes" in result.stdout
    assert run_cli("drift").exit_code == 0


def test_asset_added_to_an_auto_generate_folder(applied_config: DemoWorld, run_cli: RunCli) -> None:
    add_source_asset(applied_config, "recipe", "Refund issued alert", 114)
    changes = _plan(run_cli)
    assert set(changes) == {"export.billing-alerts"} | _imports_of(changes, "billing-alerts")
    assert changes["export.billing-alerts"]["reasons"] == ["recipe Refund issued alert: added"]
    assert len(_imports_of(changes, "billing-alerts")) == 13
    [finding] = _drift(run_cli)
    assert finding["kind"] == "source_newer"
    assert finding["address"] == "export.billing-alerts"


def test_a_target_folder_changed(applied_config: DemoWorld, run_cli: RunCli) -> None:
    applied_config.sim.change_asset("E-globex", "Sync accounts", folder_id=2211)
    changes = _plan(run_cli)
    assert set(changes) == {"import.crm-sync@E-globex/2211"}
    [reason] = _list(changes["import.crm-sync@E-globex/2211"]["reasons"])
    assert reason.startswith("the target folder changed since the last import")
    assert "recipe Sync accounts: version 4 -> 5" in reason
    [finding] = _drift(run_cli)
    assert finding["kind"] == "target_changed"
    assert finding["address"] == "import.crm-sync@E-globex/2211"
    assert finding["target"] == "E-globex/2211"


def test_no_refresh_targets_hides_target_drift(applied_config: DemoWorld, run_cli: RunCli) -> None:
    applied_config.sim.change_asset("E-globex", "Sync accounts", folder_id=2211)
    assert run_cli("plan", "--no-refresh-targets", "--detailed-exitcode").exit_code == 0
    result = run_cli("drift", "--no-refresh-targets")
    assert result.exit_code == 0
    assert "not refreshed" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_drift_formats_name_the_finding(
    applied_config: DemoWorld, run_cli: RunCli, fmt: str
) -> None:
    applied_config.sim.bump_recipe_version(TEMPLATE, "Sync contacts")
    result = run_cli("drift", "--format", fmt)
    assert result.exit_code == 2
    assert "export.crm-sync" in result.stdout
    assert "recipe Sync contacts: version 2 -> 3" in result.stdout


def test_drift_reports_are_written(applied_config: DemoWorld, run_cli: RunCli) -> None:
    world = applied_config
    world.sim.archive_manifest(TEMPLATE, world.manifest_id("billing-alerts"))
    as_json, as_md = world.root / "drift.json", world.root / "drift.md"
    result = run_cli("drift", "--report", str(as_json), "--report", str(as_md))
    assert result.exit_code == 2
    doc = json.loads(as_json.read_text(encoding="utf-8"))
    assert [f["kind"] for f in doc["findings"]] == ["manifest_archived"]
    markdown = as_md.read_text(encoding="utf-8")
    assert "manifest.billing-alerts" in markdown
    assert "archived" in markdown


def test_drift_refuses_an_unknown_report_format(applied_config: DemoWorld, run_cli: RunCli) -> None:
    world = applied_config
    world.sim.set_request_logging(True)
    world.sim.clear_request_log()
    result = run_cli("drift", "--report", str(world.root / "drift.pdf"))
    assert result.exit_code == 1
    assert "drift.pdf" in result.stderr
    assert world.sim.request_counts() == {}  # refused before any API call


def test_drift_on_an_empty_state_is_never_imported(demo_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("drift", "--format", "json")
    assert result.exit_code == 2
    kinds = {f["kind"] for f in json.loads(result.stdout)["findings"]}
    assert kinds == {"never_imported"}

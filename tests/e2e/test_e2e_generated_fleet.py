"""A Fleet listed from Workato: customers that appear are imported into a folder by path,
created on apply; customers that disappear are reported and left alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_world import RunCli, one_manifest_world

from reconciler.simulator import Simulator
from reconciler.state.store import StateStore

FLEET = """\
kind: Fleet
name: generated
workspace: partner
manifests: [crm]
restart_recipes: true
from_workato:
  external_id: "-cust-*"
  exclude: E-cust-0005
folder: Integrations/CRM
{fleet_extra}"""


def _world(root: Path, monkeypatch: pytest.MonkeyPatch, fleet_extra: str = "") -> Simulator:
    return one_manifest_world(root, monkeypatch, 5, FLEET.format(fleet_extra=fleet_extra))


def _plan(run_cli: RunCli, *args: str) -> dict[str, Any]:
    result = run_cli("plan", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def _imports(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["target"]: c for c in plan["changes"] if c["kind"] == "import"}


def _crm_folder(sim: Simulator, customer: str) -> int | None:
    folders = sim.folders(customer)
    top = next((f for f in folders.values() if f["name"] == "Integrations"), None)
    if top is None:
        return None
    return next(
        (i for i, f in folders.items() if f["name"] == "CRM" and f["parent_id"] == top["id"]),
        None,
    )


def test_a_generated_fleet_follows_workatos_customer_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    sim = _world(tmp_path / "w", monkeypatch, "create_folders: true\n")
    first = _imports(_plan(run_cli))
    assert sorted(first) == [f"E-cust-000{i}/Integrations/CRM" for i in range(1, 5)]
    reasons = first["E-cust-0001/Integrations/CRM"]["reasons"]
    assert "customer E-cust-0001 appeared in Workato (fleet generated)" in reasons
    assert any("folder Integrations/CRM does not exist in E-cust-0001 yet" in r for r in reasons)
    assert _crm_folder(sim, "E-cust-0001") is None  # a plan creates nothing

    applied = run_cli("apply", "--auto-approve", "-q")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    for i in range(1, 5):
        folder = _crm_folder(sim, f"E-cust-000{i}")
        assert folder is not None
        names = {a["name"] for a in sim.folder_assets(f"E-cust-000{i}", folder)}
        assert "Sync accounts" in names
    assert _crm_folder(sim, "E-cust-0005") is None  # excluded
    state = StateStore(tmp_path / "w" / "rlcm.state.json").read()
    assert state.targets["E-cust-0001/Integrations/CRM"].folder_id == _crm_folder(
        sim, "E-cust-0001"
    )

    # steady state: the customer list is read, no folder is looked up again
    sim.clear_request_log()
    assert run_cli("plan", "--detailed-exitcode").exit_code == 0
    counts = sim.request_counts()
    assert counts.get("customers_list") == 1 and "folders_list" not in counts

    # a customer added in Workato appears on the next plan; apply creates its folder
    sim.add_customer("E-cust-new", folders=["Its own folder"])
    appeared = _imports(_plan(run_cli))
    assert list(appeared) == ["E-cust-new/Integrations/CRM"]
    assert run_cli("apply", "--auto-approve", "-q").exit_code == 0
    assert _crm_folder(sim, "E-cust-new") is not None

    # a removed customer is reported, kept in state and not touched
    sim.remove_customer("E-cust-0002")
    sim.clear_request_log()
    result = run_cli("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "customer E-cust-0002 is no longer in Workato's customer list" in result.stderr
    assert "kept and not touched" in result.stderr
    assert all(r.user != "E-cust-0002" for r in sim.request_log())
    state = StateStore(tmp_path / "w" / "rlcm.state.json").read()
    assert "crm@E-cust-0002/Integrations/CRM" in state.imports
    pruned = _plan(run_cli, "--prune")
    forgets = [c["address"] for c in pruned["changes"] if c["action"] == "forget"]
    assert forgets == ["import.crm@E-cust-0002/Integrations/CRM"]
    assert run_cli("apply", "--auto-approve", "-q", "--prune").exit_code == 0
    after = run_cli("plan", "--detailed-exitcode")
    assert after.exit_code == 0 and "E-cust-0002" not in after.stderr  # forgotten for good


def test_a_missing_folder_without_create_folders_is_one_clear_plan_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    _world(tmp_path / "w", monkeypatch)
    result = run_cli("plan")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        "target E-cust-0001/Integrations/CRM: folder 'Integrations/CRM' does not exist" in lines[0]
    )
    assert "create_folders: true" in lines[0]


def test_overrides_apply_by_customer_and_unknown_ones_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    extra = (
        "create_folders: true\n"
        "customers:\n"
        "  - {customer: E-cust-0003, restart_recipes: false, folder: Elsewhere}\n"
        "  - {customer: E-nobody, restart_recipes: false}\n"
    )
    _world(tmp_path / "w", monkeypatch, extra)
    result = run_cli("plan", "--format", "json")
    assert result.exit_code == 0, result.stderr
    imports = _imports(json.loads(result.stdout))
    assert imports["E-cust-0003/Elsewhere"]["data"]["restart_recipes"] is False
    assert imports["E-cust-0001/Integrations/CRM"]["data"]["restart_recipes"] is True
    assert "customers lists E-nobody, which Workato's customer list does not" in result.stderr


def test_adopting_a_generated_fleet_caches_its_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    sim = _world(tmp_path / "w", monkeypatch)
    for i in range(1, 5):
        customer = f"E-cust-000{i}"
        sim.add_folder(customer, "CRM", sim.add_folder(customer, "Integrations"))
    assert run_cli("apply", "--auto-approve", "-q", "--target", "export.crm").exit_code == 0
    for i in range(1, 4):  # a script imported the package into three; the fourth is empty
        crm_id = _crm_folder(sim, f"E-cust-000{i}")
        assert crm_id is not None
        sim.seed_imported(f"E-cust-000{i}", crm_id, ["crm"])
    result = run_cli("adopt", "--all", "--auto-approve")
    assert result.exit_code == 1  # the fourth lacks the package's recipes
    assert "3 of 4 imports were not adopted" not in result.stderr
    assert "1 of 4 imports were not adopted" in result.stderr
    sim.clear_request_log()
    plan = _imports(_plan(run_cli))
    assert list(plan) == ["E-cust-0004/Integrations/CRM"]
    counts = sim.request_counts()
    # the export's apply recorded every resolved folder: no target is looked up again
    assert counts["customers_list"] == 1 and "folders_list" not in counts
    state = StateStore(tmp_path / "w" / "rlcm.state.json").read()
    assert len(state.targets) == 4 and len(state.baselines) == 3


@pytest.mark.parametrize("processed", [False, True])
def test_a_lost_folder_create_answer_makes_no_twin_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli, processed: bool
) -> None:
    sim = _world(tmp_path / "w", monkeypatch, "create_folders: true\n")
    sim.inject_fault("customers_list", "503")  # retried: a read
    sim.inject_fault("folder_create", "drop", processed=processed)
    first = run_cli("apply", "--auto-approve")
    assert first.exit_code == 3, first.stdout + first.stderr  # one target failed
    assert "POST /api/managed_users/" in first.stdout + first.stderr
    again = run_cli("apply", "--auto-approve", "-q")
    assert again.exit_code == 0, again.stdout + again.stderr
    for i in range(1, 5):
        folders = sim.folders(f"E-cust-000{i}").values()
        assert sum(1 for f in folders if f["name"] == "Integrations") == 1
        assert sum(1 for f in folders if f["name"] == "CRM") == 1
    assert run_cli("plan", "--detailed-exitcode").exit_code == 0

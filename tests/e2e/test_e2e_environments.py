"""Embedded Environments: a Fleet over [test, prod] imports into both suffixed workspaces,
one wave each; a customer without Environments is a plan error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_world import RunCli, one_manifest_world

from reconciler.simulator import Simulator

FLEET = """\
kind: Fleet
name: envs
workspace: partner
manifests: [crm]
restart_recipes: true
environments: [test, prod]
folder: Integrations
create_folders: true
customers:
  - {{customer: E-cust-0001}}
  - {{customer: E-cust-0002}}
"""


def _world(root: Path, monkeypatch: pytest.MonkeyPatch, provision: tuple[str, ...]) -> Simulator:
    sim = one_manifest_world(root, monkeypatch, 2, FLEET.format())
    for customer in provision:
        sim.provision_environments(customer)
    return sim


def _names(sim: Simulator, owner: str) -> set[str]:
    folders = sim.folders(owner)
    return {
        a["name"]
        for folder_id, f in folders.items()
        if f["name"] == "Integrations"
        for a in sim.folder_assets(owner, folder_id)
    }


@pytest.mark.parametrize("bare", ["dev", "prod"])
def test_a_fleet_over_test_and_prod_imports_into_both_workspaces_in_two_waves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli, bare: str
) -> None:
    sim = _world(tmp_path / "w", monkeypatch, ("E-cust-0001", "E-cust-0002"))
    sim.set_bare_environment(bare)  # rlcm names every environment by its suffix
    result = run_cli("plan", "--format", "json")
    assert result.exit_code == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    imports = [c for c in plan["changes"] if c["kind"] == "import"]
    assert {(c["target"], c["wave"], c["data"]["customer"]) for c in imports} == {
        ("E-cust-0001_test/Integrations", "test", "E-cust-0001_test"),
        ("E-cust-0002_test/Integrations", "test", "E-cust-0002_test"),
        ("E-cust-0001_prod/Integrations", "prod", "E-cust-0001_prod"),
        ("E-cust-0002_prod/Integrations", "prod", "E-cust-0002_prod"),
    }
    assert plan["summary"]["waves"] == {"test": 2, "prod": 2}

    applied = run_cli("apply", "--auto-approve", "-q")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    for customer in ("E-cust-0001", "E-cust-0002"):
        for env in ("test", "prod"):
            assert "Sync accounts" in _names(sim, f"{customer}_{env}")
        assert not _names(sim, f"{customer}_dev")  # DEV is untouched
    jobs = sim.jobs("import")
    test_jobs = [j for j in jobs if j["workspace"].endswith("_test")]
    prod_jobs = [j for j in jobs if j["workspace"].endswith("_prod")]
    assert len(test_jobs) == len(prod_jobs) == 2
    assert max(j["finished"] for j in test_jobs) <= min(j["created"] for j in prod_jobs)
    assert run_cli("plan", "--detailed-exitcode").exit_code == 0


def test_a_customer_without_environments_is_a_plan_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    _world(tmp_path / "w", monkeypatch, ("E-cust-0001",))
    result = run_cli("plan")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "target E-cust-0002_test/Integrations: environment test" in lines[0]
    assert "customer E-cust-0002 has no Embedded Environments provisioned" in lines[0]

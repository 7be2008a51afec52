"""`rlcm adopt import...`: a fleet a script imported into comes under rlcm without imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_world import RunCli, one_manifest_world

from reconciler.simulator import Simulator
from reconciler.simulator.seed import add_asset
from reconciler.state.store import StateStore

FLEET = """\
kind: Fleet
name: script-imported
workspace: partner
manifests: [crm]
restart_recipes: true
customers:
{customers}"""


def _customer(i: int) -> str:
    return f"E-cust-{i:04d}"


def _address(i: int) -> str:
    return f"import.crm@{_customer(i)}/{50_000 + i}"


def _world(root: Path, monkeypatch: pytest.MonkeyPatch, count: int) -> Simulator:
    """`count` demo customers in a Fleet, the manifest exported, every folder seeded."""
    entries = "".join(
        f"  - {{customer: {_customer(i)}, folder_id: {50_000 + i}}}\n" for i in range(1, count + 1)
    )
    return one_manifest_world(root, monkeypatch, count, FLEET.format(customers=entries))


def _export_and_seed(run_cli: RunCli, sim: Simulator, count: int) -> None:
    result = run_cli("apply", "--auto-approve", "-q", "--target", "export.crm")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert sim.jobs("import") == []
    for i in range(1, count + 1):
        sim.seed_imported(_customer(i), 50_000 + i, ["crm"])


def _plan(run_cli: RunCli) -> dict[str, object]:
    result = run_cli("plan", "--format", "json")
    assert result.exit_code == 0, result.stderr
    plan: dict[str, object] = json.loads(result.stdout)
    return plan


def _imports(plan: dict[str, object]) -> dict[str, list[str]]:
    changes = plan["changes"]
    assert isinstance(changes, list)
    return {c["address"]: c["reasons"] for c in changes if c["kind"] == "import"}


def test_a_script_imported_fleet_of_50_is_adopted_with_zero_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    sim = _world(tmp_path / "w", monkeypatch, 50)
    _export_and_seed(run_cli, sim, 50)
    state_path = tmp_path / "w" / "rlcm.state.json"
    before = StateStore(state_path).read()
    assert len(_imports(_plan(run_cli))) == 50  # every customer looks never imported

    preview = run_cli("adopt", "--all", "--dry-run")
    assert preview.exit_code == 0, preview.stderr
    assert preview.stdout.count("  + import.crm@") == 50
    assert "recipes found: Invoice" not in preview.stdout
    assert "recipes found: Sync accounts, Sync contacts" in preview.stdout
    assert "Adopt: 50 of 50 imports to record; nothing is imported." in preview.stdout
    assert StateStore(state_path).read().serial == before.serial  # a preview writes nothing

    refused = run_cli("adopt", "--all")  # not a terminal, no --auto-approve
    assert refused.exit_code == 1 and "--auto-approve" in refused.stderr
    assert StateStore(state_path).read().imports == {}

    sim.clear_request_log()
    adopted = run_cli("adopt", "--all", "--auto-approve")
    assert adopted.exit_code == 0, adopted.stderr
    assert "Adopted 50 imports" in adopted.stdout
    assert sim.jobs("import") == []  # nothing was imported
    # one Recipes API read per target; the scarce bucket only for the plan's source folder
    counts = sim.request_counts()
    assert counts["recipes_list"] == 50 and counts["folder_assets"] == 1
    state = StateStore(state_path).read()
    assert len(state.imports) == 50 and all(r.adopted for r in state.imports.values())

    assert run_cli("plan", "--detailed-exitcode").exit_code == 0

    sim.bump_recipe_version("E-template", "Sync accounts")
    imports = _imports(_plan(run_cli))
    assert sorted(imports) == sorted(_address(i) for i in range(1, 51))
    assert all(any("export.crm is planned" in r for r in why) for why in imports.values())


def test_a_folder_missing_recipes_is_not_adopted_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    sim = _world(tmp_path / "w", monkeypatch, 3)
    _export_and_seed(run_cli, sim, 3)
    sim.delete_asset(_customer(3), "Sync contacts")
    with sim._workspace(_customer(2)) as ws:  # the customer's own recipe beside the package
        add_asset(sim.engine.store, ws, "recipe", "Local tweak", 50_002, {})

    result = run_cli("adopt", "--all", "--auto-approve")
    assert result.exit_code == 1
    assert "1 of 3 imports were not adopted" in result.stderr
    assert f"! {_address(3)}: not adopted: package" in result.stdout
    assert "lacks: Sync contacts" in result.stdout
    assert "other recipes in the folder: Local tweak" in result.stdout
    imports = _imports(_plan(run_cli))
    assert list(imports) == [_address(3)]
    assert any("did not adopt it" in r and "Sync contacts" in r for r in imports[_address(3)])

    forced = run_cli("adopt", _address(3), "--force", "--auto-approve")
    assert forced.exit_code == 0, forced.stderr
    assert "adopted anyway (--force)" in forced.stdout
    assert run_cli("plan", "--detailed-exitcode").exit_code == 0
    assert not StateStore(tmp_path / "w" / "rlcm.state.json").read().unadopted


def test_adopting_before_the_package_exists_names_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    _world(tmp_path / "w", monkeypatch, 2)
    result = run_cli("adopt", "--target", "*E-cust-0001*", "--auto-approve")
    assert result.exit_code == 1
    assert "export.crm is planned" in result.stdout
    assert "rlcm apply --target export.crm" in result.stdout
    assert _address(2) not in result.stdout  # the glob chose one target


def test_named_imports_are_checked_against_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    sim = _world(tmp_path / "w", monkeypatch, 2)
    _export_and_seed(run_cli, sim, 2)
    unknown = run_cli("adopt", "import.crm@E-nobody/1", "--auto-approve")
    assert unknown.exit_code == 1 and "no target 'E-nobody/1'" in unknown.stderr
    one = run_cli("adopt", _address(1), "--auto-approve")
    assert one.exit_code == 0, one.stderr
    again = run_cli("adopt", _address(1), "--auto-approve")
    assert again.exit_code == 1 and "recorded already" in again.stderr
    assert list(_imports(_plan(run_cli))) == [_address(2)]
    usage = run_cli("adopt")
    assert usage.exit_code == 2 and "--all" in usage.stderr

"""History and rollback end to end: two applies bump a recipe, `plan --rollback-to N` brings
serial N's version back into every target as a saved, reviewed, exactly applied plan, and
drift is clean afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_world import TEMPLATE, DemoWorld, RunCli

from reconciler.config import load_desired

RECIPE = "Sync contacts"  # unpinned in crm-sync: every bump is a new package


def _source_version(world: DemoWorld) -> int:
    (asset,) = [a for a in world.sim.folder_assets(TEMPLATE, 112) if a["name"] == RECIPE]
    return int(asset["version"])


def _target_versions(world: DemoWorld) -> dict[str, int]:
    """Target address -> version of the recipe in that target's folder, as Workato has it."""
    desired = load_desired(world.root)
    found: dict[str, int] = {}
    for address, target in desired.targets.items():
        if "crm-sync" not in target.manifests:
            continue
        assets = world.sim.folder_assets(target.customer or "", target.folder_id)
        versions = [int(a["version"]) for a in assets if a["name"] == RECIPE]
        found[address] = versions[0] if versions else -1
    return found


def _bump_and_apply(world: DemoWorld, run_cli: RunCli) -> int:
    world.sim.bump_recipe_version(TEMPLATE, RECIPE)
    result = run_cli("apply", "--auto-approve", "-q")
    assert result.exit_code == 0, result.stdout + result.stderr
    return _source_version(world)


def test_rollback_reimports_the_earlier_version_everywhere(
    applied_config: DemoWorld, run_cli: RunCli, tmp_path: Path
) -> None:
    world = applied_config
    first = _bump_and_apply(world, run_cli)
    serial = world.state().serial
    second = _bump_and_apply(world, run_cli)
    assert second > first
    targets = _target_versions(world)
    assert len(targets) >= 3 and set(targets.values()) == {second}

    history = run_cli("state", "history")
    assert history.exit_code == 0, history.stderr
    rows = {line.split()[0]: line for line in history.stdout.splitlines()[1:]}
    assert str(serial) in rows and "apply" in rows[str(serial)]
    shown = run_cli("state", "show", "export.crm-sync", "--serial", str(serial))
    assert shown.exit_code == 0, shown.stderr
    versions = {a["name"]: a["version"] for a in json.loads(shown.stdout)["asset_versions"]}
    assert versions[RECIPE] == first

    saved = tmp_path / "rollback.json"
    planned = run_cli("plan", "--rollback-to", str(serial), "--out", str(saved))
    assert planned.exit_code == 0, planned.stderr
    assert f"rollback to serial {serial}" in planned.stderr
    plan = json.loads(saved.read_text())
    assert plan["rollback_to"] == serial
    addresses = {c["address"] for c in plan["changes"]}
    assert "manifest.crm-sync" in addresses and "export.crm-sync" in addresses
    assert {f"import.crm-sync@{t}" for t in targets} <= addresses
    assert run_cli("show", str(saved)).exit_code == 0

    applied = run_cli("apply", str(saved), "--auto-approve", "-q")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert _target_versions(world) == dict.fromkeys(targets, first)
    assert _source_version(world) == second  # the source keeps its newest version
    state = world.state()
    assert state.manifests["crm-sync"].rollback_serial == serial

    drift = run_cli("drift")
    assert drift.exit_code == 0, drift.stdout + drift.stderr
    assert "No drift" in drift.stdout
    # the config still asks for the latest version: a plain plan goes forward again
    forward = run_cli("plan", "--detailed-exitcode")
    assert forward.exit_code == 2, forward.stderr
    assert "manifest.crm-sync" in forward.stdout


def test_rollback_to_an_unknown_serial_names_the_kept_ones(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    result = run_cli("plan", "--rollback-to", "999")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "has no serial 999; kept serials: " in line


def test_a_stale_rollback_plan_is_refused(
    applied_config: DemoWorld, run_cli: RunCli, tmp_path: Path
) -> None:
    world = applied_config
    # two applies of 13 targets write more than the example's 20 kept serials (a write per
    # finished step and per target baseline): keep enough to find serial N afterwards
    state_doc = world.root / "state.yaml"
    state_doc.write_text(state_doc.read_text().replace("history: 20", "history: 200"))
    serial = world.state().serial
    _bump_and_apply(world, run_cli)
    saved = tmp_path / "rollback.json"
    assert run_cli("plan", "--rollback-to", str(serial), "--out", str(saved)).exit_code == 0
    _bump_and_apply(world, run_cli)  # state moved since the plan was made
    refused = run_cli("apply", str(saved), "--auto-approve")
    assert refused.exit_code == 1
    assert "saved plan is stale" in refused.stderr


def test_apply_rollback_to_plans_and_applies_in_one_go(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    world = applied_config
    first = _bump_and_apply(world, run_cli)
    serial = world.state().serial
    _bump_and_apply(world, run_cli)
    result = run_cli("apply", "--rollback-to", str(serial), "--auto-approve", "-q")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert set(_target_versions(world).values()) == {first}
    assert run_cli("drift").exit_code == 0

"""`rlcm adopt manifest.NAME ID` records a manifest made in the UI; the plan then updates it."""

from __future__ import annotations

import json

from e2e_world import TEMPLATE, DemoWorld, RunCli, create_ui_manifest

from reconciler.state.model import PendingManifest
from reconciler.state.store import StateStore


def _manifest_changes(run_cli: RunCli) -> dict[str, str]:
    result = run_cli("plan", "--format", "json")
    assert result.exit_code == 0, result.stderr
    changes = json.loads(result.stdout)["changes"]
    return {c["address"]: c["action"] for c in changes if c["kind"] == "manifest"}


def test_an_adopted_manifest_is_updated_not_created(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    manifest_id = create_ui_manifest(demo_config, "crm-sync", 112)
    result = run_cli("adopt", "manifest.crm-sync", str(manifest_id))
    assert result.exit_code == 0, result.stderr
    assert f"Adopted manifest {manifest_id} as manifest.crm-sync" in result.stdout
    assert demo_config.state().manifests["crm-sync"].id == manifest_id
    assert _manifest_changes(run_cli) == {
        "manifest.shared-connections": "create",
        "manifest.crm-sync": "update",
        "manifest.billing-alerts": "create",
    }
    # applying it updates the live manifest in place: no second crm-sync
    demo_config.sim.stop_recipe("E-umbrella", "Sync accounts")
    assert run_cli("apply", "--auto-approve", "-q").exit_code == 0
    assert demo_config.state().manifests["crm-sync"].id == manifest_id
    live = demo_config.sim.manifest(TEMPLATE, manifest_id)
    assert live is not None
    assert {a["name"] for a in live["assets"]} == {
        "Sync accounts",
        "Sync contacts",
        "Account mappings",
    }
    assert run_cli("plan", "--detailed-exitcode").exit_code == 0


def test_adopting_a_manifest_of_another_name_is_refused(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    manifest_id = create_ui_manifest(demo_config, "crm sync (old)", 112)
    result = run_cli("adopt", "manifest.crm-sync", str(manifest_id))
    assert result.exit_code == 1
    assert "named 'crm sync (old)'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not demo_config.state_path.exists()


def test_adopting_a_manifest_of_another_folder_is_refused(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    manifest_id = create_ui_manifest(demo_config, "crm-sync", 114)
    result = run_cli("adopt", "manifest.crm-sync", str(manifest_id))
    assert result.exit_code == 1
    assert "not in folder 112" in result.stderr
    assert "Billing alerts" in result.stderr  # where it really is
    assert not demo_config.state_path.exists()


def test_adopting_an_archived_manifest_is_refused(demo_config: DemoWorld, run_cli: RunCli) -> None:
    manifest_id = create_ui_manifest(demo_config, "crm-sync", 112)
    demo_config.sim.archive_manifest(TEMPLATE, manifest_id)
    result = run_cli("adopt", "manifest.crm-sync", str(manifest_id))
    assert result.exit_code == 1
    assert "archived" in result.stderr


def test_adopting_an_unknown_id_or_name_is_refused(demo_config: DemoWorld, run_cli: RunCli) -> None:
    missing = run_cli("adopt", "manifest.crm-sync", "99999")
    assert missing.exit_code == 1
    assert "99999" in missing.stderr
    assert "Traceback" not in missing.stderr
    manifests = demo_config.root / "manifests.yaml"
    assert missing.stderr.startswith(f"Error: manifest crm-sync ({manifests}:")  # where it is
    assert ": viewing live manifest 99999: GET " in missing.stderr
    unknown = run_cli("adopt", "manifest.nope", "1")
    assert unknown.exit_code == 1
    assert "no manifest 'nope' in the config" in unknown.stderr
    assert "crm-sync" in unknown.stderr


def test_a_pending_create_warns_and_names_adopt(demo_config: DemoWorld, run_cli: RunCli) -> None:
    store = StateStore(demo_config.state_path)
    state = store.read()
    state.pending["crm-sync"] = PendingManifest(name="crm-sync", started_at="2026-11-23T10:00:00Z")
    store.write(state)
    result = run_cli("plan")
    assert result.exit_code == 0
    assert "Warning:" in result.stderr
    assert "rlcm adopt manifest.crm-sync" in result.stderr
    # adopting clears the marker
    manifest_id = create_ui_manifest(demo_config, "crm-sync", 112)
    assert run_cli("adopt", "manifest.crm-sync", str(manifest_id)).exit_code == 0
    assert "pending" not in str(demo_config.state().pending)
    assert "rlcm adopt" not in run_cli("plan").stderr

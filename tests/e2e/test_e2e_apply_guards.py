"""What `rlcm apply` refuses, and saved plans: stale ones refused, fresh ones applied exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apply_fixtures import World, count

from reconciler.render.plan_json import load_plan


@pytest.fixture
def deployed(tmp_path: Path) -> World:
    """Two generic customers with everything imported once."""
    world = World(tmp_path / "world", customers=2)
    world.generic_fleet(2)
    assert world.apply().exit_code == 0
    return world


def test_without_a_terminal_apply_needs_auto_approve(tmp_path: Path) -> None:
    world = World(tmp_path)

    run = world.rlcm("apply")

    assert run.exit_code == 1
    assert "--auto-approve" in run.stderr
    assert "Traceback" not in run.stderr
    assert count(world.log(), "manifest_create") == 0
    state = json.loads(world.state_path.read_text()) if world.state_path.exists() else {}
    assert not state.get("manifests")


def test_a_second_plan_after_a_clean_apply_has_no_changes(deployed: World) -> None:
    run = deployed.rlcm("plan", "--detailed-exitcode")

    assert run.exit_code == 0, run.stdout + run.stderr
    assert deployed.rlcm("apply", "--auto-approve").stdout.startswith("No changes")


def test_after_the_demo_apply_only_the_failed_import_is_planned_again(tmp_path: Path) -> None:
    world = World(tmp_path)
    assert world.apply().exit_code == 3

    run = world.rlcm("plan", "--detailed-exitcode", "--format", "json")

    assert run.exit_code == 2
    changes = [c["address"] for c in json.loads(run.stdout)["changes"]]
    assert changes == ["import.crm-sync@E-umbrella/2401"]


def test_a_fresh_saved_plan_is_applied_exactly(deployed: World, tmp_path: Path) -> None:
    deployed.sim.bump_recipe_version("E-template", "Sync contacts")
    saved = tmp_path / "p.json"
    assert deployed.rlcm("plan", "--out", saved).exit_code == 0
    planned = [c.address for c in load_plan(saved.read_text()).changes]
    deployed.sim.clear_request_log()

    run = deployed.rlcm("apply", saved, "--report", tmp_path / "r.json")

    assert run.exit_code == 0, run.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert sorted(s["address"] for s in report["steps"]) == sorted(planned)
    assert planned == [
        "export.crm-sync",
        "import.crm-sync@E-cust-0001/50001",
        "import.crm-sync@E-cust-0002/50002",
    ]
    log = deployed.log()
    assert (count(log, "export"), count(log, "import")) == (1, 2)
    assert deployed.rlcm("plan", "--detailed-exitcode").exit_code == 0


def test_a_saved_plan_is_refused_once_state_moved(deployed: World, tmp_path: Path) -> None:
    deployed.sim.bump_recipe_version("E-template", "Sync contacts")
    saved = tmp_path / "p.json"
    assert deployed.rlcm("plan", "--out", saved).exit_code == 0
    assert deployed.apply().exit_code == 0  # someone applied in between
    deployed.sim.clear_request_log()

    run = deployed.rlcm("apply", saved)

    assert run.exit_code == 1
    assert "saved plan is stale: state moved from serial" in run.stderr
    assert count(deployed.log(), "import") == count(deployed.log(), "export") == 0


def test_a_saved_plan_is_refused_after_a_ui_edit(deployed: World, tmp_path: Path) -> None:
    deployed.sim.bump_recipe_version("E-template", "Sync contacts")
    saved = tmp_path / "p.json"
    assert deployed.rlcm("plan", "--out", saved).exit_code == 0
    deployed.sim.change_asset("E-cust-0002", "Sync accounts", folder_id=None)

    run = deployed.rlcm("apply", saved)

    assert run.exit_code == 1
    assert "saved plan is stale: live Workato changed" in run.stderr
    assert count(deployed.log(), "export") == 3  # only the first apply's


def test_pruning_a_manifest_needs_force(deployed: World) -> None:
    manifest_id = json.loads(deployed.state_path.read_text())["manifests"]["billing-alerts"]["id"]
    text = (deployed.config / "manifests.yaml").read_text()
    deployed.write(
        "manifests.yaml", text[: text.index("---\nkind: Manifest\nname: billing-alerts")]
    )
    fleet = (deployed.config / "fleet.yaml").read_text()
    deployed.write("fleet.yaml", fleet.replace(", billing-alerts]", "]"))

    planned = deployed.rlcm("plan", "--prune", "--format", "markdown")
    assert (
        "> [!WARNING]\n> apply refuses this plan: it deletes 1 manifest(s): "
        "manifest.billing-alerts (needs --allow-delete or --force)"
    ) in planned.stdout

    refused = deployed.apply("--prune")

    assert refused.exit_code == 1
    assert "deletes 1 manifest(s): manifest.billing-alerts" in refused.stderr
    assert "--force" in refused.stderr
    assert count(deployed.log(), "manifest_delete", "DELETE") == 0

    forced = deployed.apply("--prune", "--force")

    assert forced.exit_code == 0, forced.stderr
    assert count(deployed.log(), "manifest_delete", "DELETE") == 1
    gone = deployed.sim.manifest("E-template", manifest_id)
    assert gone is None or gone["status"] == "archived"
    assert "billing-alerts" not in json.loads(deployed.state_path.read_text())["manifests"]


def test_re_importing_the_whole_fleet_at_once_needs_force(tmp_path: Path) -> None:
    world = World(tmp_path, customers=12)
    world.generic_fleet(12)  # one wave, no canary
    assert world.apply().exit_code == 0
    world.sim.bump_recipe_version("E-template", "Sync contacts")

    refused = world.apply()

    assert refused.exit_code == 1
    assert "re-imports into 12 of 12 deployed targets" in refused.stderr
    assert count(world.log(), "import") == 36  # the first apply's only

    forced = world.apply("--force")

    assert forced.exit_code == 0, forced.stderr
    assert "Warning: applying with --force" in forced.stderr
    assert count(world.log(), "import") == 48


def test_a_canary_wave_keeps_a_fleet_update_within_the_threshold(tmp_path: Path) -> None:
    world = World(tmp_path, customers=12)
    world.generic_fleet(12)
    assert world.apply().exit_code == 0
    # E-cust-0001 becomes a canary of its own; the other eleven follow in wave main
    fleet = (world.config / "fleet.yaml").read_text()
    fleet = fleet.replace("restart_recipes: true\n", "restart_recipes: true\nwave: main\n")
    fleet = fleet.replace("folder_id: 50001}", "folder_id: 50001, wave: canary}")
    world.write("fleet.yaml", fleet)
    world.write("rollout.yaml", "kind: Rollout\nwaves: [canary, main]\n")
    world.sim.bump_recipe_version("E-template", "Sync contacts")

    run = world.apply()

    assert run.exit_code == 0, run.stderr


def test_an_import_job_workato_forgot_is_not_polled_forever(deployed: World) -> None:
    from reconciler.state.model import import_key
    from reconciler.state.store import StateStore

    store = StateStore(deployed.state_path)
    state = store.read()
    key = import_key("crm-sync", "E-cust-0001/50001")
    state.imports[key] = state.imports[key].model_copy(
        update={"status": "in_progress", "import_id": 999_999}
    )
    store.write(state)

    first = deployed.apply()

    assert first.exit_code == 3
    assert "import 999999 started by an earlier apply is unknown to Workato" in first.stdout
    again = deployed.apply()
    assert again.exit_code == 0, again.stdout + again.stderr
    assert count(deployed.log(), "import") == 7  # 6 at first, then the one re-sent
    assert deployed.rlcm("plan", "--detailed-exitcode").exit_code == 0


def test_apply_without_changes_still_writes_the_reports(tmp_path: Path) -> None:
    world = World(tmp_path)
    assert world.apply().exit_code in (0, 3)
    world.sim.stop_recipe("E-umbrella", "Sync accounts")
    assert world.apply().exit_code == 0
    reports = [tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.xml"]
    args = [arg for path in reports for arg in ("--report", str(path))]

    result = world.rlcm("apply", "--auto-approve", *args)

    assert result.exit_code == 0, result.stderr
    assert "No changes" in result.stdout
    assert json.loads(reports[0].read_text())["steps"] == []
    assert "<testsuites" in reports[2].read_text()


def test_a_create_whose_answer_was_lost_is_not_sent_again_without_force(tmp_path: Path) -> None:
    """Workato created the manifest but the answer never came back (the connection dropped,
    or the run was killed waiting). The next apply must not leave a throwaway duplicate:
    it refuses, names `rlcm adopt`, and once adopted goes on with the manifest that exists."""
    world = World(tmp_path, customers=2)
    world.generic_fleet(2)
    world.sim.inject_fault("manifest_create", "drop", processed=True)
    lost = world.apply()
    assert lost.exit_code != 0
    [name] = json.loads(world.state_path.read_text())["pending"]  # the dropped create
    [orphan] = [i for i, n in world.sim.manifests("E-template").items() if n == name]
    # the plan (and so a pull request's plan comment) already says what apply will refuse
    planned = json.loads(world.rlcm("plan", "--format", "json").stdout)
    assert (
        f"apply refuses this plan: an earlier create of manifest.{name} was sent but never recorded"
    ) in " ".join(planned["warnings"])
    world.sim.clear_request_log()

    refused = world.apply()

    assert refused.exit_code == 1
    assert (
        f"an earlier create of manifest.{name} was sent but never recorded and may exist in "
        "Workato; record it with `rlcm adopt ADDRESS ID` rather than create another"
    ) in refused.stderr
    assert "(needs --allow-unrecorded-create)" in refused.stderr
    assert count(world.log(), "manifest_create") == 0

    assert world.rlcm("adopt", f"manifest.{name}", str(orphan)).exit_code == 0
    done = world.apply()

    assert done.exit_code == 0, done.stderr
    assert sorted(world.sim.manifests("E-template").values()) == sorted(
        ["billing-alerts", "crm-sync", "shared-connections"]
    )
    state = json.loads(world.state_path.read_text())
    assert state["manifests"][name]["id"] == orphan and not state["pending"]


def test_allow_unrecorded_create_creates_the_manifest_again_when_the_first_never_arrived(
    tmp_path: Path,
) -> None:
    world = World(tmp_path, customers=1)
    world.generic_fleet(1)
    world.sim.inject_fault("manifest_create", "drop")  # dropped before Workato saw it
    assert world.apply().exit_code != 0
    [name] = json.loads(world.state_path.read_text())["pending"]
    assert name not in world.sim.manifests("E-template").values()
    assert world.apply().exit_code == 1

    forced = world.apply("--allow-unrecorded-create")

    assert forced.exit_code == 0, forced.stderr
    assert (
        "Warning: applying with --allow-unrecorded-create although an earlier create"
    ) in forced.stderr
    assert len(world.sim.manifests("E-template")) == 3
    assert not json.loads(world.state_path.read_text())["pending"]
    assert world.rlcm("plan", "--detailed-exitcode").exit_code == 0


def test_a_resumed_fleet_wide_rollout_is_not_refused_by_the_first_wave_share(
    tmp_path: Path,
) -> None:
    """A rollout approved (with --allow-wide-wave) and stopped half-way: the re-run only
    polls what was started and finishes the same package in the same wave; that is no new
    re-import, so the threshold does not refuse it."""
    world = World(tmp_path, customers=12)
    world.generic_fleet(12, waves=["main"], max_parallel=2, halt=12)
    assert world.apply().exit_code == 0
    world.sim.bump_recipe_version("E-template", "Sync contacts")
    world.sim.fail_next_import("E-cust-0001", 50001, ["stop_failed"])
    world.sim.inject_fault("import", "503", count=10, retry_after=None)
    half = world.apply("--allow-wide-wave")
    assert half.exit_code == 3, half.stderr  # some targets got the package, some did not

    resumed = world.apply()

    assert resumed.exit_code == 0, resumed.stderr
    assert "re-imports into" not in resumed.stderr


def test_each_safety_rule_has_its_own_flag_and_force_keeps_the_manifest_guard(
    tmp_path: Path,
) -> None:
    world = World(tmp_path, customers=1)
    world.generic_fleet(1)
    world.sim.inject_fault("manifest_create", "drop")  # dropped before Workato saw it
    assert world.apply().exit_code != 0

    forced = world.apply("--force")  # --force is about the thresholds, not this guard
    assert forced.exit_code == 1
    assert "--allow-unrecorded-create" in forced.stderr

    allowed = world.apply("--allow-unrecorded-create")
    assert allowed.exit_code == 0, allowed.stderr
    assert "Warning: applying with --allow-unrecorded-create although" in allowed.stderr


def test_an_edited_saved_plan_is_refused_by_its_digest(tmp_path: Path) -> None:
    """Flipping `restart_recipes` in a saved plan used to restart a running recipe."""
    world = World(tmp_path, customers=1)
    world.generic_fleet(1)
    saved = tmp_path / "plan.json"
    assert world.rlcm("plan", "--out", saved).exit_code == 0
    plan = json.loads(saved.read_text())
    change = next(c for c in plan["changes"] if c["kind"] == "import")
    change["data"]["restart_recipes"] = not change["data"]["restart_recipes"]
    saved.write_text(json.dumps(plan, indent=2, sort_keys=True))

    run = world.rlcm("apply", str(saved), "--auto-approve")

    assert run.exit_code == 1
    assert "saved plan was changed since it was written (plan_digest" in run.stderr
    assert count(world.log(), "import") == 0


def test_a_saved_plan_of_another_config_is_refused(tmp_path: Path) -> None:
    world = World(tmp_path, customers=2)
    world.generic_fleet(1)
    saved = tmp_path / "plan.json"
    assert world.rlcm("plan", "--out", saved).exit_code == 0
    world.generic_fleet(2)  # the config moved on since the plan was made

    run = world.rlcm("apply", str(saved), "--auto-approve")

    assert run.exit_code == 1
    assert "saved plan is stale: it was made from another config" in run.stderr
    assert count(world.log(), "import") == 0

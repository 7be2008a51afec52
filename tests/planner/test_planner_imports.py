"""import.NAME@TARGET: never imported, failed, package changed, target folder drifted."""

from __future__ import annotations

from dataclasses import replace

from planner_world import (
    in_sync,
    make_desired,
    make_live,
    make_state,
    target_folders_of,
    with_targets,
)

from reconciler.plan.planner import build_plan
from reconciler.state.model import RecipeResult


def test_first_plan_imports_everything_in_dependency_order_per_wave() -> None:
    plan = build_plan(make_desired(), make_state(), make_live())
    imports = [c for c in plan.changes if c.kind == "import"]
    assert [c.address for c in imports[:4]] == [
        "import.shared-connections@acme",
        "import.crm-sync@acme",
        "import.billing-alerts@acme",
        "import.shared-connections@E-globex/2211",
    ]
    crm = plan.by_address()["import.crm-sync@acme"]
    assert crm.reasons == ("never imported",)
    assert crm.wave == "canary"
    assert crm.depends_on == ("export.crm-sync", "import.shared-connections@acme")
    assert crm.data == {
        "manifest": "crm-sync",
        "target": "acme",
        "workspace": "partner",
        "customer": "E-acme-001",
        "folder_id": 1827,
        "restart_recipes": True,
        "include_tags": True,
        "folder_id_for_home_assets": 1830,
        "package": None,  # the export before it makes the package
        "resume_import_id": None,
        "poll_only": False,
        "first_import": True,
    }
    assert plan.summary.line() == (
        "Plan: 3 manifests to create, 3 exports, 39 imports across 13 targets "
        "(wave canary: 3, wave main: 36)."
    )


def test_a_failed_import_is_retried_and_says_why() -> None:
    desired, state, live = in_sync()
    key = "crm-sync@E-umbrella/2401"
    record = state.imports[key]
    state.imports[key] = record.model_copy(
        update={
            "status": "failed",
            "error": "running recipes would change and restart_recipes is false",
            "recipe_results": [
                RecipeResult(id=5, name="Sync accounts", import_result="stop_failed"),
                RecipeResult(id=6, name="Sync contacts", import_result="restarted"),
            ],
        }
    )
    plan = build_plan(desired, state, live)
    change = plan.by_address()["import.crm-sync@E-umbrella/2401"]
    assert change.reasons == (
        f"the last import {record.import_id} failed: running recipes would change and "
        "restart_recipes is false; failing recipes: Sync accounts (stop_failed)",
    )
    assert change.data["package"] == {
        "id": state.packages["crm-sync"].package_id,
        "digest": state.packages["crm-sync"].digest,
    }
    assert change.depends_on == ()  # shared-connections is already imported there
    assert plan.summary.line() == "Plan: 1 import across 1 target (wave main: 1)."


def test_a_target_with_an_older_package_is_imported_again() -> None:
    desired, state, live = in_sync()
    key = "crm-sync@E-globex/2211"
    state.imports[key] = state.imports[key].model_copy(
        update={"package_id": 6999, "package_digest": "sha256:old"}
    )
    change = build_plan(desired, state, live).by_address()["import.crm-sync@E-globex/2211"]
    current = state.packages["crm-sync"].package_id
    assert change.reasons == (f"the target has package 6999, the current package is {current}",)


def test_an_import_in_progress_is_polled() -> None:
    desired, state, live = in_sync()
    key = "crm-sync@acme"
    record = state.imports[key]
    state.imports[key] = record.model_copy(update={"status": "in_progress"})
    change = build_plan(desired, state, live).by_address()["import.crm-sync@acme"]
    assert change.reasons == (
        f"import {record.import_id} in progress: will be polled, not sent again",
    )
    assert change.data["resume_import_id"] == record.import_id
    assert change.data["poll_only"] is True


def test_an_import_in_progress_of_an_older_package_is_polled_before_the_new_one() -> None:
    desired, state, live = in_sync()
    key = "crm-sync@acme"
    record = state.imports[key]
    state.imports[key] = record.model_copy(update={"status": "in_progress"})
    newer = replace(live, source_folders=make_live(versions={"sync_contacts": 3}).source_folders)
    change = build_plan(desired, state, newer).by_address()["import.crm-sync@acme"]
    assert change.reasons == (
        f"import {record.import_id} in progress is for an older package: polled first",
        "the package changes: export.crm-sync is planned",
    )
    assert change.data["resume_import_id"] == record.import_id
    assert change.data["poll_only"] is False


def test_a_changed_target_folder_is_imported_again_and_says_what_moved() -> None:
    desired, state, live = in_sync()
    folders = target_folders_of(live)
    folders["acme"] = tuple(
        replace(a, version=7) if a.name == "Sync accounts" else a
        for a in folders["acme"]
        if a.name != "Sync contacts"
    )
    plan = build_plan(desired, state, with_targets(live, folders))
    change = plan.by_address()["import.crm-sync@acme"]
    assert change.reasons == (
        "the target folder changed since the last import: recipe Sync accounts: version 4 -> 7 "
        "in the target folder; recipe Sync contacts: removed in the target folder",
    )
    assert list(change.details) == [
        {"path": "target[recipe:Sync accounts].version", "change": "changed", "before": 4,
         "after": 7},
        {"path": "target[recipe:Sync contacts]", "change": "removed", "before": 2},
    ]  # fmt: skip
    # Only the manifest whose assets moved is imported again.
    assert [c.address for c in plan.changes] == ["import.crm-sync@acme"]


def test_without_refreshed_targets_folder_drift_is_not_checked_and_the_plan_says_so() -> None:
    desired, state, live = in_sync()
    folders = target_folders_of(live)
    folders["acme"] = ()
    assert not build_plan(desired, state, with_targets(live, folders)).is_empty
    plan = build_plan(desired, state, with_targets(live, None))
    assert plan.is_empty
    assert plan.refreshed_targets is False


def test_new_package_reimports_every_target_after_the_export() -> None:
    desired, state, live = in_sync()
    newer = replace(live, source_folders=make_live(versions={"invoice": 9}).source_folders)
    plan = build_plan(desired, state, newer)
    change = plan.by_address()["import.billing-alerts@91928/77"]
    assert change.reasons == ("the package changes: export.billing-alerts is planned",)
    assert change.depends_on == ("export.billing-alerts",)
    assert change.data["package"] is None
    assert change.data["folder_id_for_home_assets"] == 78
    assert change.data["first_import"] is False


def test_depends_on_names_the_planned_imports_of_dependencies_on_the_same_target() -> None:
    desired, state, live = in_sync()
    for name in ("shared-connections", "crm-sync"):
        del state.imports[f"{name}@E-hooli/2501"]
    plan = build_plan(desired, state, live)
    assert [c.address for c in plan.changes] == [
        "import.shared-connections@E-hooli/2501",
        "import.crm-sync@E-hooli/2501",
    ]
    assert plan.changes[1].depends_on == ("import.shared-connections@E-hooli/2501",)


def test_target_globs_narrow_the_plan_and_pull_in_dependencies() -> None:
    plan = build_plan(
        make_desired(),
        make_state(),
        make_live(),
        targets=["import.crm-sync@E-acme*", "import.crm-sync@acme"],
    )
    assert [c.address for c in plan.changes] == [
        "manifest.shared-connections",
        "manifest.crm-sync",
        "export.shared-connections",
        "export.crm-sync",
        "import.shared-connections@acme",
        "import.crm-sync@acme",
    ]
    assert plan.warnings == ("--target import.crm-sync@E-acme* matches no planned change",)


def test_a_glob_over_a_wave_of_targets() -> None:
    desired, state, live = in_sync()
    newer = replace(live, source_folders=make_live(versions={"invoice": 9}).source_folders)
    plan = build_plan(desired, state, newer, targets=["import.*@E-*"])
    assert plan.summary.line() == "Plan: 1 export, 11 imports across 11 targets (wave main: 11)."

"""export.NAME: when a new package is needed, and why, in a reviewer's words."""

from __future__ import annotations

from dataclasses import replace

from planner_world import demo_manifests, in_sync, make_desired, make_live, make_state

from reconciler.live import LiveAsset
from reconciler.plan.planner import build_plan


def test_no_package_yet_needs_an_export() -> None:
    desired, state, live = in_sync()
    del state.packages["crm-sync"]
    export = build_plan(desired, state, live).by_address()["export.crm-sync"]
    assert export.reasons == ("no package exported yet",)
    assert export.data["manifest_id"] == state.manifests["crm-sync"].id
    assert export.depends_on == ()


def test_a_created_manifest_is_exported_after_it_is_created() -> None:
    plan = build_plan(make_desired(), make_state(), make_live())
    export = plan.by_address()["export.crm-sync"]
    assert export.reasons == ("no package exported yet",)
    assert export.depends_on == ("manifest.crm-sync",)
    assert export.data["manifest_id"] is None  # known once the create is applied
    assert export.data["asset_versions"] == [
        {"type": "lookup_table", "name": "Account mappings", "version": None, "id": 1131,
         "folder": "Mappings"},
        {"type": "recipe", "name": "Sync accounts", "version": 4, "id": 1121, "folder": ""},
        {"type": "recipe", "name": "Sync contacts", "version": 2, "id": 1122, "folder": ""},
    ]  # fmt: skip


def test_a_newer_unpinned_recipe_needs_an_export_and_says_which() -> None:
    desired, state, live = in_sync()
    newer = replace(live, source_folders=make_live(versions={"sync_contacts": 3}).source_folders)
    plan = build_plan(desired, state, newer)
    export = plan.by_address()["export.crm-sync"]
    assert export.reasons == ("recipe Sync contacts: version 2 -> 3",)
    assert list(export.details) == [
        {"path": "assets[recipe:Sync contacts].version", "change": "changed", "before": 2,
         "after": 3},
    ]  # fmt: skip
    assert "manifest.crm-sync" not in plan.by_address()  # the manifest body did not change
    assert plan.summary.line() == (
        "Plan: 1 export, 13 imports across 13 targets (wave canary: 1, wave main: 12)."
    )


def test_a_newer_pinned_recipe_needs_nothing() -> None:
    desired, state, live = in_sync()
    newer = replace(live, source_folders=make_live(versions={"sync_accounts": 9}).source_folders)
    assert build_plan(desired, state, newer).is_empty


def test_auto_generate_folders_export_when_any_asset_is_added_or_newer() -> None:
    desired, state, live = in_sync()
    folders = dict(make_live(versions={"invoice": 4}).source_folders)
    folders[114] = (*folders[114], LiveAsset(1143, "recipe", "Refund issued alert", 1))
    export = build_plan(desired, state, replace(live, source_folders=folders)).by_address()[
        "export.billing-alerts"
    ]
    assert export.reasons == (
        "recipe Invoice overdue alert: version 3 -> 4",
        "recipe Refund issued alert: added",
    )
    assert {"path": "assets[recipe:Refund issued alert]", "change": "added", "after": 1} in (
        export.details
    )


def test_a_removed_asset_of_an_auto_generate_folder_is_listed() -> None:
    desired, state, live = in_sync()
    folders = dict(live.source_folders)
    folders[114] = folders[114][:1]
    export = build_plan(desired, state, replace(live, source_folders=folders)).by_address()[
        "export.billing-alerts"
    ]
    assert export.reasons == ("recipe Payment failed alert: removed",)


def test_a_failed_export_is_retried_with_its_error() -> None:
    desired, state, live = in_sync()
    package = state.packages["crm-sync"]
    state.packages["crm-sync"] = package.model_copy(
        update={"status": "failed", "error": "Recipe Sync accounts has errors"}
    )
    export = build_plan(desired, state, live).by_address()["export.crm-sync"]
    assert export.reasons == (
        f"the last export {package.package_id} failed: Recipe Sync accounts has errors",
    )


def test_an_export_in_progress_is_polled_not_exported_again() -> None:
    desired, state, live = in_sync()
    package = state.packages["crm-sync"]
    state.packages["crm-sync"] = package.model_copy(update={"status": "in_progress"})
    plan = build_plan(desired, state, live)
    export = plan.by_address()["export.crm-sync"]
    assert export.reasons == (
        f"export {package.package_id} in progress: will be polled, not exported again",
    )
    assert export.data["resume_package_id"] == package.package_id
    assert plan.summary.exports == 1


def test_an_outdated_export_in_progress_is_not_resumed() -> None:
    desired, state, live = in_sync()
    package = state.packages["crm-sync"]
    state.packages["crm-sync"] = package.model_copy(update={"status": "in_progress"})
    newer = replace(live, source_folders=make_live(versions={"sync_contacts": 3}).source_folders)
    export = build_plan(desired, state, newer).by_address()["export.crm-sync"]
    assert export.reasons[0] == f"export {package.package_id} in progress is out of date"
    assert export.data["resume_package_id"] is None


def test_a_manifest_update_from_the_config_needs_a_new_package() -> None:
    _desired, state, live = in_sync()
    manifests = demo_manifests()
    manifests["crm-sync"] = replace(manifests["crm-sync"], include_tags=False)
    plan = build_plan(make_desired(manifests=manifests), state, live)
    export = plan.by_address()["export.crm-sync"]
    assert export.reasons == ("manifest.crm-sync will be updated",)
    assert export.depends_on == ("manifest.crm-sync",)
    assert export.data["manifest_id"] == state.manifests["crm-sync"].id

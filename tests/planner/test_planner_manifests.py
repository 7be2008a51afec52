"""manifest.NAME: create, update (field-level), recreate, delete and forget with --prune."""

from __future__ import annotations

from dataclasses import replace

import pytest
from planner_world import demo_manifests, in_sync, loc, make_desired, make_live, make_state

from reconciler.config.desired import AssetRef
from reconciler.errors import PlanError
from reconciler.live import LiveAsset
from reconciler.plan.planner import build_plan
from reconciler.state.model import PendingManifest


def test_empty_state_creates_every_manifest_with_the_resolved_body() -> None:
    plan = build_plan(make_desired(), make_state(), make_live())
    creates = [c for c in plan.changes if c.kind == "manifest"]
    assert [c.address for c in creates] == [
        "manifest.shared-connections",
        "manifest.crm-sync",
        "manifest.billing-alerts",
    ]
    crm = plan.by_address()["manifest.crm-sync"]
    assert crm.action == "create"
    assert crm.reasons == ("not in state: a new manifest will be created",)
    body = crm.data["body"]
    assert [(a["type"], a["name"], a["version"], a["id"]) for a in body["assets"]] == [
        ("lookup_table", "Account mappings", None, 1131),
        ("recipe", "Sync accounts", 4, 1121),
        ("recipe", "Sync contacts", None, 1122),
    ]
    mapping = body["assets"][0]
    assert mapping["folder"] == "Mappings"
    assert mapping["zip_name"] == "Mappings/account_mappings.lookup_table.json"
    assert mapping["checked"] is True
    assert crm.data["spec_digest"].startswith("sha256:")
    assert crm.data["manifest_id"] is None
    assert crm.data["owner"] == "E-template"


def test_auto_generate_manifest_body_carries_the_flags() -> None:
    plan = build_plan(make_desired(), make_state(), make_live())
    body = plan.by_address()["manifest.billing-alerts"].data["body"]
    assert body == {
        "name": "billing-alerts",
        "folder_id": 114,
        "include_tags": False,
        "auto_generate_assets": True,
        "include_test_cases": False,
        "include_data": False,
    }


def test_a_newer_unpinned_version_does_not_change_the_spec_digest() -> None:
    desired = make_desired()
    one = build_plan(desired, make_state(), make_live())
    two = build_plan(desired, make_state(), make_live(versions={"sync_contacts": 7}))
    digest = [p.by_address()["manifest.crm-sync"].data["spec_digest"] for p in (one, two)]
    assert digest[0] == digest[1]


def test_in_sync_plans_no_changes() -> None:
    desired, state, live = in_sync()
    plan = build_plan(desired, state, live)
    assert plan.is_empty
    assert plan.summary.line() == "No changes."


def test_repinning_a_version_updates_the_manifest_with_a_field_level_diff() -> None:
    _desired, state, live = in_sync()
    manifests = demo_manifests()
    crm = manifests["crm-sync"]
    assets = tuple(
        replace(a, version=3) if a.name == "Sync accounts" else a for a in crm.assets or ()
    )
    manifests["crm-sync"] = replace(crm, assets=assets, include_tags=False)
    plan = build_plan(make_desired(manifests=manifests), state, live)
    change = plan.by_address()["manifest.crm-sync"]
    assert change.action == "update"
    assert change.reasons == (
        "the config changed: include_tags true -> false; recipe Sync accounts: version 4 -> 3",
    )
    assert list(change.details) == [
        {"path": "include_tags", "change": "changed", "before": True, "after": False},
        {
            "path": "assets[recipe:Sync accounts].version",
            "change": "changed",
            "before": 4,
            "after": 3,
        },
    ]
    assert change.data["manifest_id"] == state.manifests["crm-sync"].id


def test_adding_and_removing_assets_is_listed() -> None:
    _desired, state, live = in_sync()
    manifests = demo_manifests()
    shared = manifests["shared-connections"]
    manifests["shared-connections"] = replace(
        shared, assets=(*(shared.assets or ())[:2], AssetRef("recipe", "Sync contacts"))
    )
    folders = dict(live.source_folders)
    folders[110] = (*folders[110], LiveAsset(1199, "recipe", "Sync contacts", 1))
    plan = build_plan(
        make_desired(manifests=manifests), state, replace(live, source_folders=folders)
    )
    change = plan.by_address()["manifest.shared-connections"]
    assert {(d["path"], d["change"]) for d in change.details} == {
        ("assets[lookup_table:Region codes]", "removed"),
        ("assets[recipe:Sync contacts]", "added"),
    }
    assert "lookup_table Region codes: removed" in change.reasons[0]
    assert "recipe Sync contacts: added" in change.reasons[0]


def test_a_manifest_edited_in_the_ui_is_put_back() -> None:
    desired, state, live = in_sync()
    views = dict(live.manifests)
    views["crm-sync"] = replace(views["crm-sync"], include_tags=False, folder_id=999)
    plan = build_plan(desired, state, replace(live, manifests=views))
    change = plan.by_address()["manifest.crm-sync"]
    assert change.action == "update"
    assert change.reasons == (
        "edited in the Workato UI: folder changed to 999; include_tags changed to false",
    )
    assert {"path": "include_tags", "change": "changed", "before": False, "after": True,
            "source": "live"} in change.details  # fmt: skip
    # Putting back a UI edit sends the body the last package came from: no new export.
    assert "export.crm-sync" not in plan.by_address()


@pytest.mark.parametrize(
    ("status", "words"), [("archived", "was archived"), ("gone", "no longer exists (404)")]
)
def test_an_archived_or_gone_manifest_is_recreated_and_exported(status: str, words: str) -> None:
    desired, state, live = in_sync()
    views = dict(live.manifests)
    views["crm-sync"] = replace(views["crm-sync"], status=status)
    plan = build_plan(desired, state, replace(live, manifests=views))
    change = plan.by_address()["manifest.crm-sync"]
    old_id = state.manifests["crm-sync"].id
    assert change.action == "recreate"
    assert change.reasons == (f"live manifest {old_id} {words}: it will be created again",)
    export = plan.by_address()["export.crm-sync"]
    assert export.reasons == ("manifest.crm-sync will be recreated",)
    assert export.depends_on == ("manifest.crm-sync",)
    assert export.data["manifest_id"] is None
    assert plan.summary.line().startswith("Plan: 1 manifest to recreate, 1 export, 13 imports")


def test_prune_deletes_unconfigured_manifests_and_forgets_their_imports() -> None:
    desired, state, live = in_sync()
    manifests = demo_manifests()
    del manifests["billing-alerts"]
    targets = {
        a: replace(t, manifests=("shared-connections", "crm-sync"))
        for a, t in desired.targets.items()
    }
    smaller = make_desired(manifests=manifests, targets=targets)
    assert build_plan(smaller, state, live).is_empty  # without --prune nothing is removed
    plan = build_plan(smaller, state, live, prune=True)
    delete = plan.by_address()["manifest.billing-alerts"]
    assert delete.action == "delete"
    assert delete.reasons == (
        f"no longer in the config: live manifest {state.manifests['billing-alerts'].id} "
        "will be deleted",
    )
    assert delete.data["forget_package"] is True
    forgets = [c for c in plan.changes if c.kind == "import"]
    assert len(forgets) == 13 and {c.action for c in forgets} == {"forget"}
    assert forgets[0].reasons == (
        "manifest billing-alerts is no longer in the config: the state record is forgotten "
        "(assets stay in the target folder)",
    )
    assert plan.summary.line() == "Plan: 1 manifest to delete, 13 import records to forget."


def test_prune_forgets_imports_of_removed_targets() -> None:
    desired, state, live = in_sync()
    targets = dict(desired.targets)
    del targets["E-soylent/3201"]
    plan = build_plan(make_desired(targets=targets), state, live, prune=True)
    assert [c.address for c in plan.changes] == [
        "import.billing-alerts@E-soylent/3201",
        "import.crm-sync@E-soylent/3201",
        "import.shared-connections@E-soylent/3201",
    ]
    assert plan.changes[0].reasons[0].startswith("target E-soylent/3201 is no longer in the config")


def test_prune_of_an_already_archived_manifest_only_forgets_it() -> None:
    desired, state, live = in_sync()
    manifests = demo_manifests()
    del manifests["billing-alerts"]
    targets = {
        a: replace(t, manifests=("shared-connections", "crm-sync"))
        for a, t in desired.targets.items()
    }
    views = dict(live.manifests)
    views["billing-alerts"] = replace(views["billing-alerts"], status="archived")
    plan = build_plan(
        make_desired(manifests=manifests, targets=targets),
        state,
        replace(live, manifests=views),
        prune=True,
    )
    change = plan.by_address()["manifest.billing-alerts"]
    assert change.action == "forget"
    assert "already archived in Workato" in change.reasons[0]


def test_a_pending_create_warns_and_names_adopt() -> None:
    state = make_state()
    state.pending["crm-sync"] = PendingManifest(name="crm-sync", started_at="2026-11-23T10:00:00Z")
    plan = build_plan(make_desired(), state, make_live())
    assert plan.warnings == (
        "manifest.crm-sync: a create sent at 2026-11-23T10:00:00Z was never recorded; if it "
        "exists in Workato, run `rlcm adopt manifest.crm-sync ID` instead of creating another "
        "(apply creates it again only with --allow-unrecorded-create)",
    )
    assert "an earlier create was never recorded (see warnings)" in (
        plan.by_address()["manifest.crm-sync"].reasons
    )


def test_missing_and_ambiguous_references_name_the_yaml_position_and_candidates() -> None:
    manifests = demo_manifests()
    crm = manifests["crm-sync"]
    manifests["crm-sync"] = replace(
        crm,
        assets=(
            AssetRef("recipe", "Sync acounts", location=loc(16)),
            AssetRef("recipe", "Sync contacts", location=loc(17)),
            AssetRef("lookup_table", "Nope", location=loc(18)),
        ),
    )
    live = make_live()
    folders = dict(live.source_folders)
    folders[112] = (*folders[112], LiveAsset(1190, "recipe", "Sync contacts", 1, folder="Old"))
    with pytest.raises(PlanError) as caught:
        build_plan(
            make_desired(manifests=manifests), make_state(), replace(live, source_folders=folders)
        )
    message = str(caught.value)
    assert message.startswith("3 asset references cannot be resolved: ")
    assert (
        'examples/manifests/manifests.yaml:16:5: manifest crm-sync: recipe "Sync acounts" not '
        "found in folder 112 (did you mean: 'Sync accounts', 'Sync contacts')"
    ) in message
    assert 'manifests.yaml:17:5: manifest crm-sync: recipe "Sync contacts" is ambiguous' in message
    assert "id 1122 in All projects/CRM sync, id 1190 in Old" in message
    assert '18:5: manifest crm-sync: lookup_table "Nope" not found in folder 112 ' in message
    assert "\n" not in message


def test_a_pin_above_the_source_version_is_a_warning() -> None:
    manifests = demo_manifests()
    crm = manifests["crm-sync"]
    assets = tuple(
        replace(a, version=6) if a.name == "Sync accounts" else a for a in crm.assets or ()
    )
    manifests["crm-sync"] = replace(crm, assets=assets)
    plan = build_plan(make_desired(manifests=manifests), make_state(), make_live())
    assert plan.warnings == (
        "examples/manifests/manifests.yaml:16:5: manifest crm-sync: recipe Sync accounts is "
        "pinned to version 6 but the source has version 4",
    )


def test_unpinning_reads_as_latest() -> None:
    _, state, live = in_sync()
    manifests = demo_manifests()
    crm = manifests["crm-sync"]
    assets = tuple(replace(a, version=None) for a in crm.assets or ())
    manifests["crm-sync"] = replace(crm, assets=assets)
    change = build_plan(make_desired(manifests=manifests), state, live).by_address()[
        "manifest.crm-sync"
    ]
    assert change.reasons == ("the config changed: recipe Sync accounts: version 4 -> latest",)
    assert change.details[0]["after"] is None

"""rlcm drift: each class of finding, and the three renderings."""

from __future__ import annotations

import io
import json
from dataclasses import replace

from planner_world import (
    in_sync,
    make_desired,
    make_live,
    make_state,
    target_folders_of,
    with_targets,
)

from reconciler.drift import DriftReport, detect_drift
from reconciler.live import LiveAsset
from reconciler.render.common import GITHUB_COMMENT_LIMIT
from reconciler.render.drift_json import dumps_drift, render_drift_json
from reconciler.render.drift_markdown import render_drift_markdown
from reconciler.render.drift_text import render_drift_text
from reconciler.state.model import PendingManifest


def drifted() -> DriftReport:
    """One finding of each class but `never_imported`."""
    desired, state, live = in_sync()
    views = dict(live.manifests)
    views["crm-sync"] = replace(views["crm-sync"], include_tags=False)
    views["billing-alerts"] = replace(views["billing-alerts"], status="archived")
    folders = target_folders_of(live)
    folders["acme"] = tuple(
        replace(a, version=9) if a.name == "Sync accounts" else a for a in folders["acme"]
    )
    sources = make_live(versions={"sync_contacts": 3}).source_folders
    live = with_targets(replace(live, manifests=views, source_folders=sources), folders)
    return detect_drift(desired, state, live)


def test_an_unrecorded_manifest_create_is_noted_for_the_scheduled_job() -> None:
    """A CI apply killed mid-create leaves a pending marker; the drift job is where a team
    running rlcm unattended first looks, so it says what to do (not drift in Workato)."""
    desired, state, live = in_sync()
    state.pending["crm-sync"] = PendingManifest(name="crm-sync", started_at="2026-11-23T10:00:00Z")
    report = detect_drift(desired, state, live)
    assert not report.has_drift
    assert report.notes == (
        "manifest.crm-sync: a create sent at 2026-11-23T10:00:00Z was never recorded; if it "
        "exists in Workato, run `rlcm adopt manifest.crm-sync ID` instead of creating another "
        "(apply creates it again only with --force)",
    )
    out = io.StringIO()
    render_drift_markdown(report, out)
    assert "> [!NOTE]\n> manifest.crm-sync: a create sent at" in out.getvalue()


def test_no_drift_after_a_clean_apply() -> None:
    desired, state, live = in_sync()
    report = detect_drift(desired, state, live)
    assert not report.has_drift
    assert report.summary_line() == "No drift."


def test_each_class_is_detected_with_a_readable_message() -> None:
    report = drifted()
    found = [(f.kind, f.address, f.message) for f in report.findings]
    package = "since package 7001"  # every first package is 7001 in planner_world
    assert found == [
        ("manifest_archived", "manifest.billing-alerts", "live manifest 9003 was archived"),
        (
            "manifest_edited",
            "manifest.crm-sync",
            "edited in the Workato UI: include_tags changed to false",
        ),
        ("source_newer", "export.crm-sync", f"{package}: recipe Sync contacts: version 2 -> 3"),
        (
            "target_changed",
            "import.crm-sync@acme",
            "since import 800001: recipe Sync accounts: version 4 -> 9 in the target folder",
        ),
    ]
    assert report.summary_line() == (
        "Drift: 4 findings (manifest archived or gone: 1, manifest edited in the UI: 1, "
        "source assets changed since the last package: 1, target folder changed since the "
        "last import: 1)."
    )


def test_never_imported_targets_are_findings() -> None:
    desired, state, live = in_sync()
    del state.imports["crm-sync@E-wonka/2701"]
    report = detect_drift(desired, state, live)
    assert [(f.kind, f.address, f.target) for f in report.findings] == [
        ("never_imported", "import.crm-sync@E-wonka/2701", "E-wonka/2701")
    ]


def test_a_source_asset_that_vanished_is_a_finding_not_an_error() -> None:
    desired, state, live = in_sync()
    folders = dict(live.source_folders)
    folders[112] = tuple(a for a in folders[112] if a.name != "Sync contacts")
    report = detect_drift(desired, state, replace(live, source_folders=folders))
    assert [f.kind for f in report.findings] == ["source_newer"]
    assert 'recipe "Sync contacts" not found in folder 112' in report.findings[0].message


def test_an_added_asset_in_an_auto_generate_folder_is_a_finding() -> None:
    desired, state, live = in_sync()
    folders = dict(live.source_folders)
    folders[114] = (*folders[114], LiveAsset(1150, "recipe", "Refund issued alert", 1))
    report = detect_drift(desired, state, replace(live, source_folders=folders))
    assert report.findings[0].message.endswith("recipe Refund issued alert: added")


def test_unrefreshed_targets_are_not_checked_and_the_report_says_so() -> None:
    desired, state, live = in_sync()
    report = detect_drift(desired, state, with_targets(live, None))
    assert report.notes == (
        "target folders were not refreshed: target folder drift is not checked",
    )


def test_text_rendering_groups_by_class() -> None:
    out = io.StringIO()
    render_drift_text(drifted(), out)
    text = out.getvalue()
    assert "Manifest edited in the UI (1):\n  ! manifest.crm-sync: edited in the Workato UI" in text
    assert "      ~ target[recipe:Sync accounts].version: 4 -> 9\n" in text
    assert text.endswith("target folder changed since the last import: 1).\n")


def test_json_rendering_is_versioned_and_round_trips() -> None:
    report = drifted()
    out = io.StringIO()
    render_drift_json(report, out)
    raw = json.loads(out.getvalue())
    assert raw["kind"] == "rlcm-drift" and raw["format_version"] == 1
    assert raw["counts"] == {
        "manifest_archived": 1,
        "manifest_edited": 1,
        "source_newer": 1,
        "target_changed": 1,
    }
    assert DriftReport.from_dict(raw) == report
    assert dumps_drift(drifted()) == out.getvalue()


def test_markdown_rendering_and_its_limit() -> None:
    out = io.StringIO()
    render_drift_markdown(drifted(), out)
    md = out.getvalue()
    assert md.startswith("## rlcm drift\n\n**Drift: 4 findings")
    assert "<details><summary>manifest edited in the UI (1)</summary>" in md
    big = detect_drift(make_desired(extra_customers=5000), make_state(), make_live())
    out = io.StringIO()
    render_drift_markdown(big, out)
    md = out.getvalue()
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert "This report is too large for one comment" in md

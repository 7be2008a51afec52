"""What reviewers read: the text, Markdown and JSON renderings of a plan."""

from __future__ import annotations

import io
import json
from dataclasses import replace

from planner_world import demo_manifests, in_sync, make_desired, make_live, make_state, with_targets

from reconciler.plan import Plan
from reconciler.plan.planner import build_plan
from reconciler.render.common import GITHUB_COMMENT_LIMIT
from reconciler.render.plan_json import render_plan_json
from reconciler.render.plan_markdown import render_plan_markdown
from reconciler.render.plan_text import render_plan_text


def text_of(plan: Plan, **options: bool) -> str:
    out = io.StringIO()
    render_plan_text(plan, out, **options)
    return out.getvalue()


def markdown_of(plan: Plan) -> str:
    out = io.StringIO()
    render_plan_markdown(plan, out)
    return out.getvalue()


def mixed_plan() -> Plan:
    """A re-pinned recipe, an archived manifest and a drifted target folder."""
    _, state, live = in_sync()
    manifests = demo_manifests()
    crm = manifests["crm-sync"]
    pinned = tuple(
        replace(a, version=3) if a.name == "Sync accounts" else a for a in crm.assets or ()
    )
    manifests["crm-sync"] = replace(crm, assets=pinned)
    views = dict(live.manifests)
    views["billing-alerts"] = replace(views["billing-alerts"], status="archived")
    return build_plan(make_desired(manifests=manifests), state, replace(live, manifests=views))


def test_text_groups_by_action_with_symbols_and_ends_with_the_summary() -> None:
    text = text_of(mixed_plan())
    assert "Manifests to update:\n  ~ manifest.crm-sync\n" in text
    assert "      # the config changed: recipe Sync accounts: version 4 -> 3\n" in text
    assert "      ~ assets[recipe:Sync accounts].version: 4 -> 3\n" in text
    assert (
        "Manifests to recreate (archived or gone in Workato):\n  ± manifest.billing-alerts\n"
        in text
    )
    assert "Exports:\n  + export.crm-sync\n" in text
    assert "Imports, wave canary:\n  ~ import.crm-sync@acme\n" in text
    assert "      after: export.crm-sync\n" in text
    assert text.index("Manifests to update") < text.index("Exports") < text.index("wave canary")
    assert text.index("wave canary") < text.index("wave main")
    assert text.endswith(
        "Plan: 1 manifest to update, 1 to recreate, 2 exports, 26 imports across 13 targets "
        "(wave canary: 2, wave main: 24).\n"
    )
    assert "\x1b[" not in text


def test_first_imports_are_marked_plus_and_deletes_minus() -> None:
    text = text_of(build_plan(make_desired(), make_state(), make_live()))
    assert "  + import.crm-sync@acme\n      # never imported\n" in text
    assert "  + manifest.crm-sync\n" in text


def test_colour_only_when_asked() -> None:
    coloured = text_of(mixed_plan(), color=True)
    assert "\x1b[" in coloured
    assert "\x1b[33m~\x1b[0m manifest.crm-sync" in coloured


def test_no_changes() -> None:
    desired, state, live = in_sync()
    assert text_of(build_plan(desired, state, live)) == "No changes.\n"


def test_text_says_when_targets_were_not_refreshed() -> None:
    desired, state, live = in_sync()
    text = text_of(build_plan(desired, state, with_targets(live, None)))
    assert text == (
        "Note: Target folders were not refreshed (--no-refresh-targets): drift in target "
        "folders is not shown.\n\nNo changes.\n"
    )


def test_text_shows_warnings() -> None:
    plan = build_plan(make_desired(), make_state(), make_live(), targets=["nothing.*"])
    assert "Warning: --target nothing.* matches no planned change\n" in text_of(plan)


def test_json_is_versioned_and_complete() -> None:
    out = io.StringIO()
    render_plan_json(mixed_plan(), out)
    raw = json.loads(out.getvalue())
    assert raw["format_version"] == 1
    assert raw["summary"]["line"].startswith("Plan: 1 manifest to update")
    change = next(c for c in raw["changes"] if c["address"] == "manifest.crm-sync")
    assert change["action"] == "update"
    assert change["details"][0] == {
        "path": "assets[recipe:Sync accounts].version", "change": "changed",
        "before": 4, "after": 3,
    }  # fmt: skip
    assert change["data"]["body"]["assets"][1]["version"] == 3


def test_markdown_has_a_summary_table_and_details_per_wave_and_target() -> None:
    md = markdown_of(mixed_plan())
    assert md.startswith("## rlcm plan\n\n**Plan: 1 manifest to update, 1 to recreate, ")
    assert "| Change | Count |\n| --- | ---: |\n| manifest update | 1 |\n" in md
    assert "| import, wave canary | 2 |\n| import, wave main | 24 |\n" in md
    assert "<details><summary>Imports, wave canary: 2 imports on 1 target</summary>" in md
    assert "<details><summary><code>acme</code>: 2 imports</summary>" in md
    assert "```diff\n~ assets[recipe:Sync accounts].version: 4 -> 3\n```" in md
    assert "too large" not in md


def test_markdown_escapes_table_cells() -> None:
    plan = build_plan(make_desired(), make_state(), make_live(), targets=["x|y"])
    assert "> --target x\\|y matches no planned change" in markdown_of(plan)


def test_markdown_for_5000_targets_stays_under_githubs_limit_and_says_it_summarised() -> None:
    plan = build_plan(make_desired(extra_customers=5000), make_state(), make_live())
    md = markdown_of(plan)
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert "This plan is too large for one comment" in md
    assert "targets are shown in full, the others are summarised by reason" in md
    assert "| never imported | " in md
    assert md.count("<details>") == md.count("</details>")
    assert plan.summary.line() in md


def test_markdown_of_an_empty_plan() -> None:
    desired, state, live = in_sync()
    assert markdown_of(build_plan(desired, state, live)) == "## rlcm plan\n\n**No changes.**\n\n"

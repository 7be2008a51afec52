"""The plan as data: summary line, saved-plan JSON (byte-identical, round trip)."""

from __future__ import annotations

import io
import json

import pytest
from planner_world import in_sync, make_desired, make_live, make_state

from reconciler.errors import PlanError
from reconciler.plan import Change, Plan, PlanSummary
from reconciler.plan.planner import build_plan
from reconciler.render.plan_json import dumps_plan, load_plan
from reconciler.render.plan_markdown import render_plan_markdown
from reconciler.render.plan_text import render_plan_text


def test_summary_line_reads_like_terraform() -> None:
    summary = PlanSummary(
        manifests={"create": 1, "update": 1},
        exports=2,
        imports=24,
        targets=12,
        waves={"canary": 2, "main": 22},
        forgets=0,
    )
    assert summary.line() == (
        "Plan: 1 manifest to create, 1 to update, 2 exports, 24 imports across 12 targets "
        "(wave canary: 2, wave main: 22)."
    )


def test_summary_line_when_only_an_update_is_planned() -> None:
    summary = PlanSummary({"update": 2}, 0, 0, 0, {}, 0)
    assert summary.line() == "Plan: 2 manifests to update."


def test_summary_counts_per_action_and_wave() -> None:
    plan = build_plan(make_desired(), make_state(), make_live())
    summary = plan.summary
    assert summary.manifests == {"create": 3}
    assert (summary.exports, summary.imports, summary.targets) == (3, 39, 13)
    assert summary.waves == {"canary": 3, "main": 36}
    assert not plan.is_empty


def test_plan_records_what_it_was_made_from() -> None:
    desired, state, live = in_sync()
    plan = build_plan(desired, state, live)
    assert plan.state_serial == state.serial
    assert plan.state_lineage == state.lineage
    assert plan.live_fingerprint == live.fingerprint()
    assert plan.config_digest.startswith("sha256:")
    assert plan.waves == ("canary", "main")


def test_identical_inputs_give_byte_identical_json() -> None:
    texts = {dumps_plan(build_plan(make_desired(), make_state(), make_live())) for _ in range(3)}
    assert len(texts) == 1
    text = texts.pop()
    raw = json.loads(text)
    assert raw["kind"] == "rlcm-plan" and raw["format_version"] == 1
    assert "time" not in text and "_at" not in text
    assert list(raw) == sorted(raw)


def test_saved_plan_round_trips_and_renders_identically() -> None:
    plan = build_plan(make_desired(), make_state(), make_live())
    loaded = load_plan(dumps_plan(plan))
    assert loaded == plan
    assert dumps_plan(loaded) == dumps_plan(plan)
    for render in (render_plan_text, render_plan_markdown):
        before, after = io.StringIO(), io.StringIO()
        render(plan, before)
        render(loaded, after)
        assert before.getvalue() == after.getvalue()


def test_a_change_keeps_its_details_and_data_through_json() -> None:
    change = Change(
        "import.crm-sync@acme", "import", "import", "crm-sync", "acme", "canary",
        reasons=("never imported",),
        details=({"path": "target[recipe:Sync accounts].version", "change": "changed",
                  "before": 3, "after": 5},),
        depends_on=("export.crm-sync",),
        data={"package": {"id": 1, "digest": "sha256:x"}},
    )  # fmt: skip
    assert Change.from_dict(json.loads(json.dumps(change.to_dict()))) == change


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "saved plan: not JSON"),
        ('{"kind": "rlcm-state"}', 'saved plan: not an rlcm plan (expected "kind": "rlcm-plan")'),
        (
            '{"kind": "rlcm-plan", "format_version": 99}',
            "saved plan: saved plan has format_version 99; this rlcm reads 1",
        ),
        ('{"kind": "rlcm-plan", "format_version": 1}', "saved plan: saved plan is incomplete"),
    ],
)
def test_unreadable_saved_plans_are_refused_with_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(text)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_empty_plan() -> None:
    desired, state, live = in_sync()
    plan = build_plan(desired, state, live)
    assert plan.is_empty and plan.summary.total == 0
    assert isinstance(Plan.from_dict(plan.to_dict()), Plan)

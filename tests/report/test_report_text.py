"""The text report people read after `rlcm apply`."""

from __future__ import annotations

import io

from reconciler.render import report_text
from reconciler.report import ApplyReport


def _text(report: ApplyReport, *, color: bool = False) -> str:
    out = io.StringIO()
    report_text.render(report, out, color=color)
    return out.getvalue()


def test_text_names_the_failing_recipe_and_its_result(demo_report: ApplyReport) -> None:
    text = _text(demo_report)
    assert "E-umbrella/2401" in text
    assert "Sync accounts: stopped" in text
    assert "not restart it" in text  # the explanation of `stopped`
    assert "[FAILED] crm-sync" in text


def test_text_says_why_a_step_was_skipped(demo_report: ApplyReport) -> None:
    text = _text(demo_report)
    assert "[skipped] billing-alerts" in text
    assert "why: depends on import.crm-sync@E-umbrella/2401, which failed" in text


def test_text_ends_with_the_summary_line(demo_report: ApplyReport) -> None:
    last = _text(demo_report).splitlines()[-1]
    assert last == (
        "Apply: 37 imports succeeded, 1 failed, 1 skipped across 13 targets; "
        "3 exports; 3 manifests created."
    )


def test_waves_in_rollout_order(demo_report: ApplyReport) -> None:
    text = _text(demo_report)
    assert text.index("Wave canary") < text.index("Wave main")


def test_colour_only_when_asked(demo_report: ApplyReport) -> None:
    assert "\033[" not in _text(demo_report)
    assert "\033[31" in _text(demo_report, color=True)


def test_empty_apply_still_summarises() -> None:
    text = _text(ApplyReport([], "a", "b"))
    assert "0 imports succeeded" in text
    assert "no manifest changes" in text


def test_a_halt_and_the_deadline_are_each_said_once(
    halted_at_the_deadline: ApplyReport,
) -> None:
    text = _text(halted_at_the_deadline)
    assert text.count("Halted: the gate of wave canary stopped wave main.") == 1
    assert text.count(f"Stopped: {halted_at_the_deadline.deadline}.") == 1

"""The Markdown report for pull-request comments and job summaries."""

from __future__ import annotations

import io

from reconciler.render import report_markdown
from reconciler.report import ApplyReport, RecipeOutcome, StepOutcome


def _md(report: ApplyReport) -> str:
    out = io.StringIO()
    report_markdown.render(report, out)
    return out.getvalue()


def test_failures_come_first_with_the_failing_recipe(demo_report: ApplyReport) -> None:
    text = _md(demo_report)
    assert text.startswith("## rlcm apply: ❌ 1 failed")
    failures = text.index("### Failures")
    assert failures < text.index("<details>")
    row = next(line for line in text.splitlines() if line.startswith("| E-umbrella/2401 |"))
    assert "crm-sync" in row and "**Sync accounts**: `stopped`" in row


def test_a_details_block_per_wave(demo_report: ApplyReport) -> None:
    text = _md(demo_report)
    assert text.count("<details>") == 2
    assert "<summary>Wave canary: 1 target, 3 imports succeeded</summary>" in text
    assert "import.billing-alerts@E-umbrella/2401" in text  # in "Not run"


def test_pipes_in_messages_do_not_break_tables() -> None:
    step = StepOutcome(
        "import.m@t",
        "import",
        "import",
        "failed",
        "m",
        target="t",
        wave="default",
        message="bad | value\nsecond line",
    )
    text = _md(ApplyReport([step], "a", "b", waves=["default"]))
    assert "bad \\| value second line" in text


def test_five_thousand_targets_stay_under_the_limit() -> None:
    steps = [
        StepOutcome(
            f"import.crm-sync@E-cust-{n:04d}/{50000 + n}",
            "import",
            "import",
            "failed" if n % 50 == 0 else "succeeded",
            "crm-sync",
            target=f"E-cust-{n:04d}/{50000 + n}",
            wave="main",
            recipes=[
                RecipeOutcome(1, "Sync accounts", "stop_failed" if n % 50 == 0 else "restarted"),
                RecipeOutcome(2, "Sync contacts", "no_update_or_update_without_restart"),
            ],
        )
        for n in range(5000)
    ]
    text = _md(ApplyReport(steps, "a", "b", waves=["main"]))
    assert len(text) < report_markdown.MAX_CHARS
    assert "Apply: 4900 imports succeeded, 100 failed" in text
    assert "Left out to stay under 65,536 characters" in text
    assert "target tables" in text
    assert text.count("<details>") == text.count("</details>")
    # Failures are listed before anything is dropped.
    assert text.count("**Sync accounts**: `stop_failed`") == 100


def test_only_skipped_steps_are_not_called_failures() -> None:
    step = StepOutcome(
        "import.m@t", "import", "import", "interrupted", "m", target="t", message="Ctrl-C"
    )
    text = _md(ApplyReport([step], "a", "b", interrupted=True))
    assert text.startswith("## rlcm apply: ⚠️ 1 not run")
    assert "**Interrupted**" in text


def test_a_halt_and_the_deadline_are_each_said_once(
    halted_at_the_deadline: ApplyReport,
) -> None:
    text = _md(halted_at_the_deadline)
    assert text.count("**Halted**: the gate of wave canary stopped wave main.") == 1
    assert text.count(f"**Stopped**: {halted_at_the_deadline.deadline}.") == 1

"""The report model: what counts as failure, exit codes, counts, grouping."""

from __future__ import annotations

import pytest

from reconciler.errors import RlcmError
from reconciler.report import ApplyReport, RecipeOutcome, StepOutcome, StepStatus


@pytest.mark.parametrize(
    "value",
    ["no_update_or_update_without_restart", "no_update_or_updated_without_restart", "restarted"],
)
def test_both_spellings_of_success_and_restarted_succeed(value: str) -> None:
    assert RecipeOutcome(1, "r", value).succeeded


@pytest.mark.parametrize(
    "value", ["not_found", "stop_failed", "stopped", "restart_failed", "mystery_state"]
)
def test_documented_failures_and_unknown_values_fail(value: str) -> None:
    recipe = RecipeOutcome(1, None, value)
    assert not recipe.succeeded
    assert recipe.label == "recipe 1"
    assert recipe.explanation


def test_unknown_result_is_explained_verbatim() -> None:
    assert "'mystery_state'" in RecipeOutcome(1, "r", "mystery_state").explanation


def test_demo_report_counts_and_exit_code(demo_report: ApplyReport) -> None:
    imports = demo_report.counts("import")
    assert (imports.succeeded, imports.failed, imports.skipped) == (37, 1, 1)
    assert demo_report.counts("import", "canary").succeeded == 3
    assert demo_report.counts_by_wave()["main"].failed == 1
    assert demo_report.counts("export").succeeded == 3
    assert demo_report.exit_code == 3
    assert len(demo_report.targets()) == 13
    assert demo_report.targets()[0] == "acme"  # canary first
    assert [s.address for s in demo_report.failed_imports()] == ["import.crm-sync@E-umbrella/2401"]


def test_steps_within_a_target_run_in_start_order_skipped_last(demo_report: ApplyReport) -> None:
    steps = demo_report.by_target()["E-umbrella/2401"]
    assert [s.manifest for s in steps] == ["shared-connections", "crm-sync", "billing-alerts"]


def _step(status: StepStatus, recipes: list[RecipeOutcome] | None = None) -> StepOutcome:
    return StepOutcome(
        "import.m@t",
        "import",
        "import",
        status,
        "m",
        target="t",
        recipes=recipes or [],
    )


def test_all_succeeded_exits_zero() -> None:
    report = ApplyReport([_step("succeeded")], "a", "b")
    assert report.exit_code == 0


def test_a_completed_import_with_a_failing_recipe_counts_as_failed() -> None:
    step = _step("succeeded", [RecipeOutcome(1, "r", "restart_failed")])
    report = ApplyReport([step], "a", "b")
    assert step.effective_status == "failed"
    assert report.exit_code == 3
    assert report.failed_imports() == [step]


def test_skipped_import_exits_three() -> None:
    assert ApplyReport([_step("succeeded"), _step("skipped")], "a", "b").exit_code == 3


def test_unsupported_format_version_is_refused() -> None:
    with pytest.raises(RlcmError, match="format_version 2"):
        ApplyReport.from_dict({"format_version": 2, "steps": []})


def test_malformed_step_is_a_clear_error() -> None:
    data = {"format_version": 1, "started_at": "a", "finished_at": "b", "steps": [{"kind": 1}]}
    with pytest.raises(RlcmError, match="report: step"):
        ApplyReport.from_dict(data)


DEADLINE = "stopped at the --max-duration deadline (1h): 2 step(s) not started; run again"


@pytest.mark.parametrize(
    ("halted", "failed", "code"),
    [(False, False, 4), (False, True, 3), (True, False, 3), (True, True, 3)],
    ids=["deadline-only", "deadline-and-a-failure", "deadline-and-a-gate", "all-three"],
)
def test_a_gate_or_a_failure_wins_over_the_deadline(halted: bool, failed: bool, code: int) -> None:
    """Exit 4 means "run again to continue"; a halted gate or a failed step would stop the
    next run just the same, so they make it 3 (a pipeline re-running on 4 does not loop)."""
    steps = [_step("failed" if failed else "succeeded"), _step("interrupted")]
    report = ApplyReport(
        steps,
        "a",
        "b",
        halted_after_wave="canary" if halted else None,
        halt_reason="the gate of wave canary stopped wave main" if halted else None,
        halted_by="wave" if halted else None,
        deadline=DEADLINE,
    )
    assert report.exit_code == code
    assert ApplyReport.from_dict(report.to_dict()).exit_code == code

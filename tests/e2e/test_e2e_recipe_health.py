"""Recipe health as data: a recipe Workato stopped since the last apply (with its stop
cause) and jobs that failed since then, per target, in every drift format (exit 2); the
plan and the apply report carry each imported recipe's health as last read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_world import TEMPLATE, DemoWorld, RunCli

from reconciler.live.recipes import HEALTH_FIELDS

ACME, GLOBEX = ("E-acme-001", 1827), ("E-globex", 2211)


@pytest.fixture
def running_then_applied(applied_config: DemoWorld, run_cli: RunCli, tmp_path: Path) -> Path:
    """Acme's and Globex's Sync contacts running, then a new version applied everywhere
    (restart_recipes: they are restarted, and the baseline read finds them running)."""
    world = applied_config
    for customer, folder in (ACME, GLOBEX):
        world.sim.start_recipe(customer, "Sync contacts", folder_id=folder)
    world.sim.bump_recipe_version(TEMPLATE, "Sync contacts")
    report = tmp_path / "apply.json"
    result = run_cli("apply", "--auto-approve", "-q", "--report", str(report))
    assert result.exit_code == 0, result.stdout + result.stderr
    return report


def test_the_apply_report_and_state_carry_the_health_read_after_the_imports(
    applied_config: DemoWorld, running_then_applied: Path
) -> None:
    steps = json.loads(running_then_applied.read_text(encoding="utf-8"))["steps"]
    step = next(s for s in steps if s["address"] == "import.crm-sync@acme")
    contacts = next(r for r in step["recipes"] if r["name"] == "Sync contacts")
    assert (contacts["import_result"], contacts["running"], contacts["job_failed_count"]) == (
        "restarted",
        True,
        0,
    )
    baseline = applied_config.state().baselines["acme"]
    recorded = next(r for r in baseline.recipes if r.name == "Sync contacts")
    assert (recorded.running, recorded.stop_cause, recorded.job_failed_count) == (True, None, 0)
    # the state records the health the report shows, as the report shows it, and the folder
    health = {k: v for k, v in contacts.items() if k in HEALTH_FIELDS}
    assert {"id", "name", "running", "stop_cause", "job_failed_count"} <= set(health)
    assert health == recorded.model_dump(include=set(health))
    assert recorded.folder_id is not None


def test_drift_reports_a_stopped_recipe_and_failed_jobs_per_target_in_every_format(
    applied_config: DemoWorld, run_cli: RunCli, running_then_applied: Path
) -> None:
    sim = applied_config.sim
    sim.stop_recipe(ACME[0], "Sync contacts", folder_id=ACME[1], cause="trigger_errors_limit")
    sim.add_jobs(ACME[0], "Sync contacts", failed=2, succeeded=5, folder_id=ACME[1])
    sim.add_jobs(GLOBEX[0], "Sync contacts", failed=3, folder_id=GLOBEX[1])

    doc = run_cli("drift", "--format", "json")
    assert doc.exit_code == 2, doc.stdout + doc.stderr
    report = json.loads(doc.stdout)
    found = {(f["kind"], f["target"]): f for f in report["findings"]}
    assert set(found) == {
        ("recipe_stopped", "acme"),
        ("jobs_failed", "acme"),
        ("jobs_failed", "E-globex/2211"),
    }
    stopped = found[("recipe_stopped", "acme")]
    assert stopped["address"] == "import.crm-sync@acme"
    assert "recipe Sync contacts stopped" in stopped["message"]
    assert "(trigger_errors_limit)" in stopped["message"]
    assert stopped["details"][0]["stop_cause"] == "trigger_errors_limit"
    assert found[("jobs_failed", "E-globex/2211")]["message"] == (
        "recipe Sync contacts: 3 failed jobs since the last apply (job_failed_count 0 -> 3)"
    )
    assert report["counts"] == {"recipe_stopped": 1, "jobs_failed": 2}
    health = {r["name"]: r for r in report["recipe_health"]["acme"]}
    assert health["Sync contacts"]["running"] is False
    assert health["Sync contacts"]["job_failed_count"] == 2

    text = run_cli("drift")
    assert text.exit_code == 2
    assert "recipe stopped since the last apply" in text.stdout
    assert "import.crm-sync@acme" in text.stdout and "import.crm-sync@E-globex/2211" in text.stdout
    assert "trigger_errors_limit" in text.stdout
    assert "3 failed jobs since the last apply" in text.stdout

    markdown = run_cli("drift", "--format", "markdown")
    assert markdown.exit_code == 2
    assert "| recipe stopped since the last apply | 1 |" in markdown.stdout
    assert "| failed jobs since the last apply | 2 |" in markdown.stdout
    assert "`import.crm-sync@E-globex/2211`" in markdown.stdout
    assert "trigger_errors_limit" in markdown.stdout


def test_the_plan_carries_the_health_it_read(
    applied_config: DemoWorld, run_cli: RunCli, running_then_applied: Path
) -> None:
    applied_config.sim.stop_recipe(
        ACME[0], "Sync contacts", folder_id=ACME[1], cause="trial_expired"
    )
    plan = run_cli("plan", "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    health = {r["name"]: r for r in json.loads(plan.stdout)["recipe_health"]["acme"]}
    assert (health["Sync contacts"]["running"], health["Sync contacts"]["stop_cause"]) == (
        False,
        "trial_expired",
    )
    assert set(health) == {
        "Sync accounts", "Sync contacts", "Invoice overdue alert", "Payment failed alert",
    }  # fmt: skip

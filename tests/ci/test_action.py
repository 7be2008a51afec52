"""The GitHub Action (action.yml) runs as written against the simulator.

Each test runs the action's shell steps (action_runner.py) in a fresh checkout of the demo
config: the install step pip-installs rlcm from this repository into an empty venv, the
rlcm step plans, applies, drifts or validates against the seeded simulator, and the
comment step talks to a fake GitHub API on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

from action_runner import ActionRun, FakeGitHub, run_rlcm_action
from ci_world import bake_the_canary

from reconciler.simulator import Simulator


def _run(
    checkout: Path, runner_python: Path, github: FakeGitHub, event: str, **inputs: str
) -> ActionRun:
    return run_rlcm_action(checkout, runner_python, github, event, {"config": "workato", **inputs})


def test_plan_on_a_pull_request_writes_the_summary_and_one_updated_comment(
    checkout: Path, runner_python: Path, github: FakeGitHub
) -> None:
    first = _run(checkout, runner_python, github, "pull_request", command="plan")
    assert first.exit_code == 0, first.log()  # plan exits 2 (changes): not a failure
    assert (runner_python / "rlcm").exists(), "the install step installed the rlcm command"
    assert first.outputs["exitcode"] == "2"
    assert first.summary.startswith("## rlcm plan\n\n**Plan: 3 manifests to create")
    assert (checkout / first.outputs["plan-file"]).stat().st_size > 0
    [created] = github.comments.values()
    assert created["issue"] == 7
    assert created["body"].startswith("<!-- rlcm plan workato -->\n## rlcm plan\n")
    posts = [r for r in github.requests if r["method"] == "POST"]
    assert [p["path"] for p in posts] == ["/repos/acme/workato-config/issues/7/comments"]
    assert posts[0]["authorization"] == "Bearer ghs_faketoken"

    Simulator(checkout / "workato" / ".rlcm" / "sim").bump_recipe_version(
        "E-template", "Sync contacts"
    )
    again = _run(checkout, runner_python, github, "pull_request", command="plan")
    assert again.exit_code == 0, again.log()
    assert len(github.comments) == 1  # updated, not a second comment
    assert [r["method"] for r in github.requests] == ["GET", "POST", "GET", "PATCH"]
    assert (
        github.requests[-1]["path"] == f"/repos/acme/workato-config/issues/comments/{created['id']}"
    )


def test_apply_on_push_writes_the_reports_and_fails_as_rlcm_did(
    checkout: Path, runner_python: Path, github: FakeGitHub
) -> None:
    run = _run(checkout, runner_python, github, "push", command="apply")
    assert run.outputs["exitcode"] == "3"  # E-umbrella's running recipe fails by design
    assert run.exit_code == 3
    assert run.outputs["stopped-at-deadline"] == "false"
    assert run.steps[-1].name == "Exit as rlcm did"
    assert "::error::rlcm apply exited 3" in run.steps[-1].stdout
    for name in ("apply.json", "apply.md", "apply.xml"):
        assert (checkout / "rlcm-reports" / name).stat().st_size > 0
    assert "## rlcm apply" in run.summary
    assert github.requests == []  # no pull request: no comment
    drift = _run(checkout, runner_python, github, "schedule", command="drift")
    assert drift.exit_code == 0, drift.log()
    assert drift.outputs["exitcode"] in ("0", "2")
    assert drift.summary.count("## rlcm apply") == 1  # the job summary keeps what came before
    assert "\n## rlcm drift\n" in drift.summary


def test_an_apply_stopped_at_the_deadline_passes_with_a_warning_and_says_so(
    checkout: Path, runner_python: Path, github: FakeGitHub
) -> None:
    """Exit 4 is "not done yet, run again": the job passes, warns, and exposes it."""
    bake_the_canary(checkout, "1h")  # the canary's bake outlasts --max-duration 30m
    run = _run(checkout, runner_python, github, "push", command="apply",
               args="--max-duration 30m")  # fmt: skip
    assert run.exit_code == 0, run.log()
    assert run.outputs["exitcode"] == "4"
    assert run.outputs["stopped-at-deadline"] == "true"
    assert run.steps[-1].name == "Exit as rlcm did"
    assert "::warning::rlcm apply stopped at the --max-duration deadline: nothing failed;" in (
        run.steps[-1].stdout
    )
    assert "::error::" not in run.log()
    assert "stopped at the --max-duration deadline (30m)" in run.summary
    state = json.loads((checkout / "workato" / "rlcm.state.json").read_text())
    assert state["waves"]["canary"]["baked"] is False  # the next run waits out the rest

    fleet = _run(checkout, runner_python, github, "push", command="apply", wave="main",
                 args="--max-duration 30m")  # fmt: skip
    assert fleet.exit_code == 0, fleet.log()  # the bake's 1 h is left: exit 4 at once
    assert fleet.outputs["stopped-at-deadline"] == "true"


def test_validate_annotates_a_broken_config_and_fails(
    checkout: Path, runner_python: Path, github: FakeGitHub
) -> None:
    manifests = checkout / "workato" / "manifests.yaml"
    manifests.write_text(manifests.read_text().replace("folder_id: 112", "folder_idd: 112"))
    run = _run(checkout, runner_python, github, "pull_request", command="validate")
    assert run.exit_code == 1
    rlcm_step = next(s for s in run.steps if s.name == "rlcm validate")
    assert "::error file=workato/manifests.yaml,line=" in rlcm_step.stdout
    assert github.requests == []  # validate has no Markdown to post


def test_an_unknown_command_is_one_error(
    checkout: Path, runner_python: Path, github: FakeGitHub
) -> None:
    run = _run(checkout, runner_python, github, "push", command="destroy")
    assert run.exit_code == 1
    assert "::error::rlcm action: unknown command 'destroy'" in run.steps[-1].stdout


def test_the_wave_input_runs_one_wave_and_only_for_plan_and_apply(
    checkout: Path, runner_python: Path, github: FakeGitHub
) -> None:
    fleet_first = _run(checkout, runner_python, github, "push", command="apply", wave="main")
    assert fleet_first.outputs["exitcode"] == "3", fleet_first.log()  # the canary has not run
    assert not (checkout / "workato" / "rlcm.state.json").exists()  # nothing was applied
    canary = _run(checkout, runner_python, github, "push", command="apply", wave="canary")
    assert canary.exit_code == 0, canary.log()
    assert canary.outputs["stopped-at-deadline"] == "false"
    waves = json.loads((checkout / "workato" / "rlcm.state.json").read_text())["waves"]
    assert list(waves) == ["canary"] and waves["canary"]["passed"] is True
    # a wave's plan on a pull request is its own comment, beside the whole plan's
    for wave in ("main", ""):
        run = _run(checkout, runner_python, github, "pull_request", command="plan", wave=wave)
        assert run.exit_code == 0, run.log()
    bodies = sorted(c["body"].splitlines()[0] for c in github.comments.values())
    assert bodies == ["<!-- rlcm plan workato -->", "<!-- rlcm plan workato wave main -->"]
    drift = _run(checkout, runner_python, github, "schedule", command="drift", wave="main")
    assert drift.exit_code == 1
    assert "::error::rlcm action: wave 'main' is for plan and apply, not 'drift'" in (
        drift.steps[-1].stdout
    )

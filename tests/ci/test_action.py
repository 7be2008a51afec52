"""The GitHub Action (action.yml) runs as written against the simulator.

Each test runs the action's shell steps (action_runner.py) in a fresh checkout of the demo
config: the install step pip-installs rlcm from this repository into an empty venv, the
rlcm step plans, applies, drifts or validates against the seeded simulator, and the
comment step talks to a fake GitHub API on 127.0.0.1.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from action_runner import ActionRun, FakeGitHub, clean_env, fake_github, run_action
from ci_world import ROOT, make_checkout

from reconciler.simulator import Simulator

OFFLINE_PIP = "--no-deps --no-build-isolation --no-index"  # what the runner has, no network


@pytest.fixture(scope="module")
def runner_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv without rlcm, as a fresh runner's Python: it sees this one's packages (pip,
    the build backend, rlcm's dependencies) but has no `rlcm` command until the action
    installs it."""
    venv = tmp_path_factory.mktemp("runner") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (purelib,) = venv.glob("lib/python3*/site-packages")
    (purelib / "runner-base.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    assert not (venv / "bin" / "rlcm").exists()
    return venv / "bin"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_checkout(tmp_path)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        yield fake


def _run(
    checkout: Path, runner_python: Path, github: FakeGitHub, event: str, **inputs: str
) -> ActionRun:
    env = clean_env()
    env["PATH"] = f"{runner_python}{os.pathsep}{env.get('PATH', '')}"
    env["WORKATO_API_TOKEN"] = "demo-token"
    env["PIP_NO_INDEX"] = "1"
    context: dict[str, Any] = {
        "token": "ghs_faketoken",
        "event_name": event,
        "repository": "acme/workato-config",
        "api_url": github.url,
        "event": {"pull_request": {"number": 7}} if event == "pull_request" else {},
    }
    return run_action(
        ROOT,
        {"config": "workato", "pip-args": OFFLINE_PIP, **inputs},
        workdir=checkout,
        env=env,
        github=context,
    )


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
    assert run.steps[-1].name == "Exit as rlcm did"
    assert "::error::rlcm apply exited 3" in run.steps[-1].stdout
    for name in ("apply.json", "apply.md", "apply.xml"):
        assert (checkout / "rlcm-reports" / name).stat().st_size > 0
    assert "## rlcm apply" in run.summary
    assert github.requests == []  # no pull request: no comment
    drift = _run(checkout, runner_python, github, "schedule", command="drift")
    assert drift.exit_code == 0, drift.log()
    assert drift.outputs["exitcode"] in ("0", "2")
    assert drift.summary.count("## rlcm apply") == 1 and "drift" in drift.summary.lower()


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

"""The CI examples are valid, use rlcm's GitHub Action and GitLab template, and run.

GitHub: every step that `uses:` rlcm's action is run through the action as written
(action_runner.py: the install step, rlcm, the comment step against a fake GitHub API), in
the order the workflow runs them, against a seeded simulator with the example config
standing in for the user's `workato/` directory. GitLab: each job is resolved against
templates/rlcm.yml (its `extends:`, with the include's inputs), and its `rlcm ...` command
lines are run through the real CLI. A flag that does not exist makes click exit 2 with
"No such option", which fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from action_runner import FakeGitHub, run_rlcm_action
from ci_world import ROOT, Reference, bake_the_canary, load_ci_yaml
from click.testing import CliRunner

from reconciler.cli import cli

EXAMPLES = ROOT / "examples" / "ci"
GITHUB = sorted((EXAMPLES / "github-actions").glob("*.yml"))
GITLABS = sorted(EXAMPLES.glob("gitlab-ci*.yml"))
GITLAB = EXAMPLES / "gitlab-ci.yml"
WORKFLOWS = [*GITHUB, *GITLABS]
TEMPLATE = ROOT / "templates" / "rlcm.yml"
ACTION = re.compile(r"^[\w.-]+/rlcm@[\w.-]+$")  # `uses: OWNER/rlcm@v0.1.0`
# what each command may exit with in a pipeline run of the demo world:
# plan --detailed-exitcode 2 (changes), apply 3 (E-umbrella fails by design), drift 0 or 2
ALLOWED_EXITS = {"validate": {0}, "plan": {0, 2}, "apply": {0, 3}, "drift": {0, 2}}
# the variables of a pipeline run by hand with --force, and of an ordinary push
PIPELINE_VARS = {"RLCM_FORCE": "", "RLCM_ARGS": ""}
FORCED_VARS = {"RLCM_FORCE": "--force", "RLCM_ARGS": "--force"}


def github_expressions(variables: Mapping[str, str]) -> dict[str, str]:
    """The GitHub expressions the workflows pass to the action, as that run sees them."""
    return {
        "inputs.force && '--force' || ''": variables.get("RLCM_FORCE", ""),
        "secrets.WORKATO_API_TOKEN": "demo-token",
    }


PUSH = github_expressions(PIPELINE_VARS)
FORCED = github_expressions(FORCED_VARS)
EVENTS = {
    "rlcm-plan.yml": "pull_request",
    "rlcm-apply.yml": "push",
    "rlcm-apply-postgres.yml": "push",
    "rlcm-apply-waves.yml": "push",
    "rlcm-drift.yml": "schedule",
}


# -- GitHub --------------------------------------------------------------------------------


def action_steps(path: Path, expressions: Mapping[str, str] = PUSH) -> list[dict[str, str]]:
    """The `with:` inputs of each step that uses rlcm's action, expressions expanded."""
    found = []
    for job in yaml.safe_load(path.read_text())["jobs"].values():
        for step in job["steps"]:
            if ACTION.match(str(step.get("uses", ""))):
                found.append({k: _github_value(str(v), expressions)
                              for k, v in (step.get("with") or {}).items()})  # fmt: skip
    return found


def _github_value(text: str, expressions: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        assert match[1] in expressions, f"an expression the test does not know: {match[1]}"
        return expressions[match[1]]

    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", one, text)


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_workflows_use_the_action_and_copy_no_rlcm_steps(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    steps = [s for job in document["jobs"].values() for s in job["steps"]]
    assert action_steps(path), f"{path.name} does not use rlcm's action"
    action_inputs = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    for inputs in action_steps(path):
        assert set(inputs) <= action_inputs, f"{path.name}: {set(inputs) - action_inputs}"
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    assert "pip install" not in runs and not re.search(r"^\s*rlcm ", runs, re.MULTILINE)


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_workflows_run_the_action_against_the_simulator(
    path: Path, checkout: Path, runner_python: Path, github: FakeGitHub
) -> None:
    for inputs in action_steps(path):
        run = run_rlcm_action(checkout, runner_python, github, EVENTS[path.name], inputs)
        allowed = ALLOWED_EXITS[inputs["command"]]
        assert int(run.outputs["exitcode"]) in allowed, f"{path.name}: {inputs}\n{run.log()}"
        assert all("No such option" not in s.stderr for s in run.steps), run.log()
    if path.name == "rlcm-plan.yml":
        [comment] = github.comments.values()  # the plan, on pull request 7
        assert "## rlcm plan" in comment["body"]
    if path.name == "rlcm-apply.yml":  # every report it uploads, and the state it commits
        for name in ("apply.json", "apply.md", "apply.xml"):
            assert (checkout / "reports" / name).stat().st_size > 0
        assert (checkout / "workato" / "rlcm.state.json").exists()
    if path.name == "rlcm-drift.yml":  # the issue steps read drift.md
        assert (checkout / "drift.md").exists()


# -- GitLab --------------------------------------------------------------------------------


def gitlab_jobs(path: Path = GITLAB) -> dict[str, dict[str, Any]]:
    """The pipeline's jobs with `extends:` resolved against templates/rlcm.yml, its
    `$[[ inputs.NAME ]]` filled from the include's inputs (or their defaults), and every
    `!reference [job, key]` spliced in."""
    pipeline = load_ci_yaml(path)
    [include] = [i for i in pipeline["include"] if str(i.get("remote", "")).endswith("/rlcm.yml")]
    spec, jobs = TEMPLATE.read_text().split("\n---\n", 1)
    inputs = {k: v.get("default") for k, v in yaml.safe_load(spec)["spec"]["inputs"].items()}
    inputs.update(include.get("inputs") or {})
    text = re.sub(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]", lambda m: str(inputs[m[1]]), jobs)
    every = {**load_ci_yaml(text), **pipeline}

    def resolved(name: str) -> dict[str, Any]:
        job = every[name]
        parents = job.get("extends", [])
        merged: dict[str, Any] = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            merged = _merge(merged, resolved(parent))
        return _merge(merged, {k: v for k, v in job.items() if k != "extends"})

    def spliced(items: list[Any]) -> list[str]:
        out: list[str] = []
        for item in items:
            if isinstance(item, Reference):
                out += spliced(resolved(item[0])[item[1]])
            else:
                out.append(str(item))
        return out

    reserved = {"include", "stages", "variables", "default", "workflow"}
    found = {n: resolved(n) for n in pipeline if n not in reserved and not n.startswith(".")}
    for job in found.values():
        for key in ("before_script", "script", "after_script"):
            if key in job:
                job[key] = spliced(job[key])
    return found


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """GitLab's `extends:`: hashes merge deeply, everything else (lists too) is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _script_lines(job: Mapping[str, Any]) -> Iterator[str]:
    for key in ("before_script", "script", "after_script"):
        for item in job.get(key) or []:
            yield from str(item).splitlines()


def job_command_lines(job: Mapping[str, Any], variables: Mapping[str, str]) -> list[list[str]]:
    """The `rlcm` invocations of a job as argument lists (shell plumbing after them dropped,
    `$NAME` of the job's and the pipeline's variables expanded as the shell would)."""
    known = {**{k: str(v) for k, v in (job.get("variables") or {}).items()}, **variables}
    found = []
    for raw in _script_lines(job):
        line = raw.strip()
        if not line.startswith("rlcm ") or line == "rlcm --version":
            continue
        command = re.split(r"\s(?:>|\|\||;|&&)\s?", line)[0]
        # `${NAME:+WORD}`: WORD when NAME is set and not empty, else nothing
        command = re.sub(r"\$\{(\w+):\+([^}]*)\}", lambda m: m[2] if known.get(m[1]) else "",
                         command)  # fmt: skip
        command = re.sub(r"\$\{?(\w+)\}?", lambda m: known.get(m[1], m[0]), command)
        found.append(shlex.split(command)[1:])
    return found


def action_command_line(inputs: Mapping[str, str]) -> list[str]:
    """The rlcm command line action.yml's rlcm step runs for these inputs (its `case`)."""
    config, extra = inputs.get("config", "."), shlex.split(inputs.get("args", ""))
    folder = inputs.get("report-dir", "rlcm-reports")
    wave = ["--wave", inputs["wave"]] if inputs.get("wave") else []
    command = inputs["command"]
    if command == "validate":
        return ["validate", "-c", config, "--format", "github", *extra]
    if command == "plan":
        out = f"{folder}/rlcm.plan.json"
        return ["plan", "-c", config, "--format", "markdown", "--detailed-exitcode", "--out",
                out, *extra, *wave]  # fmt: skip
    if command == "apply":
        reports = [f"--report={folder}/apply.{ext}" for ext in ("json", "md", "xml")]
        return ["apply", "-c", config, "--auto-approve", *extra, *wave, *reports]
    assert command == "drift", command
    return ["drift", "-c", config, "--format", "markdown", "--report", f"{folder}/drift.md",
            *extra]  # fmt: skip


def rlcm_command_lines(path: Path, variables: Mapping[str, str] = PIPELINE_VARS) -> list[list[str]]:
    """Every rlcm command line a pipeline runs, in order: a GitHub workflow's through rlcm's
    action, a GitLab pipeline's through the template's jobs."""
    if path.parent.name == "github-actions":
        steps = action_steps(path, github_expressions(variables))
        return [action_command_line(inputs) for inputs in steps]
    return [
        line for job in gitlab_jobs(path).values() for line in job_command_lines(job, variables)
    ]


def test_the_action_command_lines_are_the_actions_own() -> None:
    """action_command_line mirrors action.yml's rlcm step: each line it gives is there."""
    script = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"][2]["run"]
    joined = re.sub(r"\\\n\s*", " ", script)
    for fragment in ("rlcm validate -c \"$RLCM_CONFIG_PATH\" --format github",
                     "rlcm plan -c \"$RLCM_CONFIG_PATH\" --format markdown --detailed-exitcode",
                     "rlcm apply -c \"$RLCM_CONFIG_PATH\" --auto-approve $RLCM_ARGS "
                     "${RLCM_WAVE:+--wave \"$RLCM_WAVE\"}",
                     "--out \"$plan_file\" $RLCM_ARGS ${RLCM_WAVE:+--wave \"$RLCM_WAVE\"} >",
                     "rlcm drift -c \"$RLCM_CONFIG_PATH\" --format markdown --report"):  # fmt: skip
        assert fragment in joined


# each pipeline's jobs: gitlab-ci-waves.yml splits the apply job into one job per wave
GITLAB_JOBS = {"gitlab-ci-waves.yml": ["validate", "plan", "apply-canary", "apply-fleet", "drift"]}
GITLAB_JOBS_USUALLY = ["validate", "plan", "apply", "drift"]


@pytest.mark.parametrize("path", GITLABS, ids=lambda p: p.name)
def test_gitlab_jobs_extend_the_template_and_copy_no_rlcm_steps(path: Path) -> None:
    pipeline = load_ci_yaml(path)
    jobs = gitlab_jobs(path)
    assert list(jobs) == GITLAB_JOBS.get(path.name, GITLAB_JOBS_USUALLY)
    for name, job in jobs.items():
        assert pipeline[name]["extends"] == f".rlcm-{name.partition('-')[0]}"
        assert any("pip install --quiet " in s and "git+https://" in s
                   for s in job["before_script"])  # fmt: skip
        assert job_command_lines(job, {}), f"{name} runs no rlcm command"
    # the commands live in the template
    assert not re.search(r"\brlcm (validate|plan|apply|drift)\b", str(pipeline))
    for name in (n for n in jobs if n.startswith("apply")):
        assert any(r.get("if", "").endswith('"web"') for r in jobs[name]["rules"])


@pytest.mark.parametrize("path", GITLABS, ids=lambda p: p.name)
def test_every_gitlab_rlcm_command_line_runs_against_the_simulator(
    path: Path, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("WORKATO_API_TOKEN", "demo-token")
    (checkout / "reports").mkdir()  # the apply job's `mkdir -p reports`
    runner = CliRunner()
    ran = []
    for args in rlcm_command_lines(path):
        result = runner.invoke(cli, args)
        assert "No such option" not in result.stderr, f"rlcm {shlex.join(args)}"
        assert "No such command" not in result.stderr, f"rlcm {shlex.join(args)}"
        assert result.exit_code in ALLOWED_EXITS[args[0]], (
            f"rlcm {shlex.join(args)} exited {result.exit_code}: {result.stderr}"
        )
        ran.append(args[0])
    assert ran == [n.partition("-")[0] for n in GITLAB_JOBS.get(path.name, GITLAB_JOBS_USUALLY)]
    for name in ("apply.json", "apply.md", "apply.xml"):
        assert (checkout / "reports" / name).stat().st_size > 0


def test_github_annotations_point_at_the_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "kind: Workspace\nname: partner\napi:\n  data_center: us\n"
        "---\nkind: Source\nworkspace: partner\n---\n"
        "kind: Manifest\nname: crm-sync\nfolder_id: 112\nasets: []\n"
    )
    result = CliRunner().invoke(cli, ["validate", "-c", str(config), "--format", "github"])
    assert result.exit_code == 1
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("::error "))
    assert f"file={config}" in line
    assert ",line=12," in line
    assert "asets" in line


APPLYING = [
    EXAMPLES / "github-actions" / "rlcm-apply.yml",
    EXAMPLES / "github-actions" / "rlcm-apply-postgres.yml",
    EXAMPLES / "gitlab-ci.yml",
    EXAMPLES / "gitlab-ci-postgres.yml",
    EXAMPLES / "github-actions" / "rlcm-apply-waves.yml",
    EXAMPLES / "gitlab-ci-waves.yml",
]


@pytest.mark.parametrize("path", APPLYING, ids=lambda p: p.name)
def test_apply_can_be_forced_by_hand(path: Path) -> None:
    """A plan over the safety thresholds fails the apply job; docs/ci.md says to rerun it
    by hand with --force: GitHub's `force` box (the action's `args`), GitLab's RLCM_ARGS."""
    applies = [a for a in rlcm_command_lines(path, FORCED_VARS) if a[0] == "apply"]
    assert applies and all("--force" in a for a in applies)
    assert not any("--force" in a for a in rlcm_command_lines(path) if a[0] == "apply")


WAVE_JOBS = [EXAMPLES / "github-actions" / "rlcm-apply-waves.yml", EXAMPLES / "gitlab-ci-waves.yml"]


@pytest.mark.parametrize("path", WAVE_JOBS, ids=lambda p: p.name)
def test_wave_pipelines_run_the_canary_job_then_the_fleet_job(
    path: Path, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Canary job, approval, fleet job: the fleet job starts from the canary's state and
    imports into the main wave (E-umbrella fails there by design: exit 3, not halted)."""
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("WORKATO_API_TOKEN", "demo-token")
    applies = [a for a in rlcm_command_lines(path) if a[0] == "apply"]
    assert [a[a.index("--wave") + 1] for a in applies] == ["canary", "main"]
    # the fleet job run first (pressed before the canary job ran) changes nothing
    early = CliRunner().invoke(cli, applies[1])
    assert early.exit_code == 3 and "canary" in early.stdout + early.stderr
    assert not (checkout / "workato" / "rlcm.state.json").exists()
    codes = [CliRunner().invoke(cli, args).exit_code for args in applies]
    assert codes == [0, 3]
    state = json.loads((checkout / "workato" / "rlcm.state.json").read_text())
    assert state["waves"]["canary"]["passed"] is True
    assert state["waves"]["main"]["targets"] == 12


@pytest.mark.parametrize("path", GITLABS, ids=lambda p: p.name)
def test_gitlab_apply_jobs_pass_a_deadline_stop_with_a_warning(path: Path) -> None:
    """Exit 4 (stopped at --max-duration) is "passed with warnings" in every apply job the
    examples extend from the template, with RLCM_EXIT for later jobs."""
    applies = {n: j for n, j in gitlab_jobs(path).items() if n.startswith("apply")}
    assert applies
    for name, job in applies.items():
        assert job["allow_failure"] == {"exit_codes": [4]}, name
        assert job["artifacts"]["reports"]["dotenv"] == "reports/apply.env", name
        assert 'echo "RLCM_EXIT=$code" > reports/apply.env' in job["script"], name


def test_the_template_apply_job_stopped_at_the_deadline_exits_4_and_says_so(
    checkout: Path,
) -> None:
    """The template's .rlcm-apply script (as gitlab-ci-postgres.yml's apply job has it, with
    nothing around it) run by bash as GitLab's runner does, against the simulator."""
    bake_the_canary(checkout, "1h")  # the canary's bake outlasts --max-duration 30m
    job = gitlab_jobs(EXAMPLES / "gitlab-ci-postgres.yml")["apply"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RLCM_")}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", "\n".join(job["script"])],
        cwd=checkout, capture_output=True, text=True, timeout=300,
        env={**environ, **{k: str(v) for k, v in job["variables"].items()},
             "RLCM_ARGS": "--max-duration 30m", "WORKATO_API_TOKEN": "demo-token",
             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"},
    )  # fmt: skip
    assert done.returncode == 4, done.stdout + done.stderr  # allow_failure: a warning
    assert "rlcm apply stopped at the --max-duration deadline; nothing failed; run the job " in (
        done.stdout
    )
    assert (checkout / "reports" / "apply.env").read_text() == "RLCM_EXIT=4\n"
    report = json.loads((checkout / "reports" / "apply.json").read_text())
    assert report["exit_code"] == 4 and "30m" in report["deadline"]


def test_the_github_fleet_job_waits_for_a_canary_stopped_at_the_deadline() -> None:
    """The canary job passes on exit 4 (not done yet): the fleet job is skipped then."""
    jobs = yaml.safe_load((EXAMPLES / "github-actions" / "rlcm-apply-waves.yml").read_text())
    jobs = jobs["jobs"]
    [step] = [s for s in jobs["canary"]["steps"] if ACTION.match(str(s.get("uses", "")))]
    assert jobs["canary"]["outputs"]["stopped-at-deadline"] == (
        f"${{{{ steps.{step['id']}.outputs.stopped-at-deadline }}}}"
    )
    assert "stopped-at-deadline" in yaml.safe_load((ROOT / "action.yml").read_text())["outputs"]
    assert jobs["fleet"]["needs"] == "canary"
    assert jobs["fleet"]["if"] == "needs.canary.outputs.stopped-at-deadline != 'true'"

"""The CI examples are valid YAML and every `rlcm` command line in them works.

Each workflow's shell steps are scanned for `rlcm ...` command lines; each is run, in
the order the pipeline runs them, through the real CLI against a seeded simulator with
the example config standing in for the user's `workato/` directory. A flag that does not
exist makes click exit 2 with "No such option", which fails the test.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ci"
WORKFLOWS = [*sorted((EXAMPLES / "github-actions").glob("*.yml")), *sorted(EXAMPLES.glob("*.yml"))]
# what each command may exit with in a pipeline run of the demo world:
# plan --detailed-exitcode 2 (changes), apply 3 (E-umbrella fails by design), drift 0 or 2
ALLOWED_EXITS = {"validate": {0}, "plan": {0, 2}, "apply": {0, 3}, "drift": {0, 2}}
# variables the pipelines set for rlcm's command lines, as on a push (no manual --force)
PIPELINE_VARS = {"RLCM_FORCE": ""}


def _shell_scripts(document: object) -> Iterator[str]:
    """Every `run:` (GitHub) and `script:`/`after_script:` (GitLab) text in a workflow."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "run" and isinstance(value, str):
                yield value
            elif key in ("script", "after_script", "before_script") and isinstance(value, list):
                yield from (line for line in value if isinstance(line, str))
            else:
                yield from _shell_scripts(value)
    elif isinstance(document, list):
        for item in document:
            yield from _shell_scripts(item)


def rlcm_command_lines(path: Path, variables: dict[str, str] = PIPELINE_VARS) -> list[list[str]]:
    """The `rlcm` invocations of a workflow as argument lists (redirections dropped,
    `$NAME` of `variables` expanded as the shell would)."""
    found = []
    for script in _shell_scripts(yaml.safe_load(path.read_text())):
        joined = re.sub(r"\\\n\s*", " ", script)  # line continuations
        for raw in joined.splitlines():
            line = raw.strip()
            if not line.startswith("rlcm "):
                continue
            command = re.split(r"\s(?:>|\|\||;|&&)\s?", line)[0]  # drop shell plumbing after it
            command = re.sub(
                r"\$\{?(\w+)\}?", lambda m: variables.get(m[1], m[0]), command
            )  # fmt: skip
            found.append(shlex.split(command)[1:])
    return found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid_yaml_with_rlcm_steps(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    assert rlcm_command_lines(path), f"{path.name} runs no rlcm command"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository checkout: the example config as `workato/`, the simulator seeded."""
    config = tmp_path / "workato"
    shutil.copytree(ROOT / "examples" / "manifests", config, ignore=shutil.ignore_patterns(".*"))
    workspace = config / "workspace.yaml"
    workspace.write_text(
        workspace.read_text()
        .replace(
            "poll: {interval: 0.5, max_interval: 5}", "poll: {interval: 0.01, max_interval: 0.05}"
        )
        .replace("rate_limits: {other: 600}", "rate_limits: {other: 100000}")
    )
    Simulator(config / ".rlcm" / "sim").seed_demo()
    (tmp_path / "reports").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKATO_API_TOKEN", "demo-token")
    return tmp_path


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_rlcm_command_line_runs_against_the_simulator(path: Path, workdir: Path) -> None:
    runner = CliRunner()
    ran = []
    for args in rlcm_command_lines(path):
        result = runner.invoke(cli, args)
        assert "No such option" not in result.stderr, f"{path.name}: rlcm {shlex.join(args)}"
        assert "No such command" not in result.stderr, f"{path.name}: rlcm {shlex.join(args)}"
        allowed = ALLOWED_EXITS[args[0]]
        assert result.exit_code in allowed, (
            f"{path.name}: rlcm {shlex.join(args)} exited {result.exit_code}: {result.stderr}"
        )
        ran.append(args[0])
    assert ran


def test_apply_workflow_writes_every_report_it_uploads(workdir: Path) -> None:
    runner = CliRunner()
    for args in rlcm_command_lines(EXAMPLES / "github-actions" / "rlcm-apply.yml"):
        runner.invoke(cli, args)
    for name in ("apply.json", "apply.md", "apply.xml"):
        assert (workdir / "reports" / name).stat().st_size > 0
    assert (workdir / "workato" / "rlcm.state.json").exists()  # committed back by the job


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
]


@pytest.mark.parametrize("path", APPLYING, ids=lambda p: p.name)
def test_apply_can_be_forced_by_hand(path: Path) -> None:
    """A plan over the safety thresholds fails the apply job; docs/ci.md says to rerun it
    by hand with --force. Each pipeline passes that flag through RLCM_FORCE."""
    applies = [a for a in rlcm_command_lines(path, {"RLCM_FORCE": "--force"}) if a[0] == "apply"]
    assert applies and all("--force" in a for a in applies)
    assert not any("--force" in a for a in rlcm_command_lines(path) if a[0] == "apply")

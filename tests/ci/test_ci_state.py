"""CI examples that cannot lose state: the file-backend apply jobs check out the latest main
and push the state with fetch-rebase-retry (examples/ci/push-state.sh, run here against real
git repositories), failing loudly when they cannot; the PostgreSQL jobs commit nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ci_world import ROOT, load_ci_yaml
from click.testing import CliRunner
from test_ci_examples import EXAMPLES, rlcm_command_lines

from reconciler.cli import cli
from reconciler.simulator import Simulator
from reconciler.state.backends.postgres import PostgresBackend

SCRIPT = EXAMPLES / "push-state.sh"
STATE = "workato/rlcm.state.json"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "rlcm", "GIT_AUTHOR_EMAIL": "rlcm@example.invalid",
    "GIT_COMMITTER_NAME": "rlcm", "GIT_COMMITTER_EMAIL": "rlcm@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip
FILE_APPLIES = [EXAMPLES / "github-actions" / "rlcm-apply.yml", EXAMPLES / "gitlab-ci.yml"]
PG_APPLIES = [
    EXAMPLES / "github-actions" / "rlcm-apply-postgres.yml",
    EXAMPLES / "gitlab-ci-postgres.yml",
]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare `origin` whose main holds a config and a state file."""
    seed = tmp_path / "seed"
    (seed / "workato").mkdir(parents=True)
    _git(seed, "init", "-q", "-b", "main")
    (seed / STATE).write_text('{"serial": 1}\n')
    (seed / "workato" / "rlcm.yaml").write_text("# v1\n")
    _git(seed, "add", ".")
    _git(seed, "commit", "-q", "-m", "start")
    bare = tmp_path / "origin.git"
    _git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


def _clone(origin: Path, name: str) -> Path:
    path = origin.parent / name
    _git(origin.parent, "clone", "-q", str(origin), str(path))
    return path


def _push_state(runner: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), STATE, "main"], cwd=runner, capture_output=True, text=True,
        env={**os.environ, **GIT_ENV, "RLCM_STATE_COMMIT_MESSAGE": "rlcm: state after apply"},
        timeout=120,
    )  # fmt: skip


def _merge_meanwhile(origin: Path, path: str, text: str) -> None:
    other = _clone(origin, f"other-{os.urandom(3).hex()}")
    (other / path).write_text(text)
    _git(other, "commit", "-q", "-am", "merged during the apply")
    _git(other, "push", "-q", "origin", "HEAD:main")


def test_a_push_refused_because_main_moved_is_rebased_and_retried(origin: Path) -> None:
    runner = _clone(origin, "runner")
    (runner / STATE).write_text('{"serial": 2}\n')  # what the apply wrote
    _merge_meanwhile(origin, "workato/rlcm.yaml", "# v2\n")
    done = _push_state(runner)
    assert done.returncode == 0, done.stderr
    assert "refused (attempt 1 of 5)" in done.stderr and "pushed to main (attempt 2)" in done.stdout
    check = _clone(origin, "check")
    assert (check / STATE).read_text() == '{"serial": 2}\n'  # this apply's state ...
    assert (check / "workato" / "rlcm.yaml").read_text() == "# v2\n"  # ... and the merge
    assert _git(check, "log", "-1", "--format=%s") == "rlcm: state after apply"


def test_a_state_changed_by_someone_else_fails_loudly_and_pushes_nothing(origin: Path) -> None:
    runner = _clone(origin, "runner")
    (runner / STATE).write_text('{"serial": 2}\n')
    _merge_meanwhile(origin, STATE, '{"serial": 7}\n')
    done = _push_state(runner)
    assert done.returncode == 1
    assert "::error::rlcm state not pushed: workato/rlcm.state.json was changed" in done.stderr
    assert (_clone(origin, "check") / STATE).read_text() == '{"serial": 7}\n'


def test_an_unchanged_state_pushes_nothing(origin: Path) -> None:
    runner = _clone(origin, "runner")
    done = _push_state(runner)
    assert done.returncode == 0 and "unchanged" in done.stdout
    assert _git(runner, "status", "--porcelain") == ""


def _steps(path: Path) -> str:
    """Every shell line of a workflow, as one text."""
    document = load_ci_yaml(path)
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "run" and isinstance(value, str):
                    found.append(value)
                elif key in ("script", "after_script") and isinstance(value, list):
                    found.extend(str(v) for v in value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return "\n".join(found)


def test_file_backend_applies_check_out_main_and_push_with_the_retry_script() -> None:
    github = load_ci_yaml(FILE_APPLIES[0])
    steps = github["jobs"]["apply"]["steps"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert any(s.get("with", {}).get("path") == STATE for s in steps)  # the state as artifact
    gitlab = load_ci_yaml(FILE_APPLIES[1])["apply"]
    assert "after_script" not in gitlab  # its failure would not fail the job
    script = "\n".join(str(line) for line in gitlab["script"])
    assert 'git checkout --quiet -B "${CI_DEFAULT_BRANCH}" FETCH_HEAD' in script
    for path in FILE_APPLIES:
        text = _steps(path)
        assert "bash ci/push-state.sh workato/rlcm.state.json" in text
        assert "git push" not in text  # only through the script, never a plain push


def test_wave_jobs_each_check_out_main_and_push_with_the_retry_script() -> None:
    """The fleet job starts from the state the canary job pushed: each wave's job checks out
    the latest main and pushes its state through push-state.sh, never a plain push."""
    github = load_ci_yaml(EXAMPLES / "github-actions" / "rlcm-apply-waves.yml")
    assert list(github["jobs"]) == ["canary", "fleet"]
    for job in github["jobs"].values():
        steps = job["steps"]
        checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
        assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
        assert any("bash ci/push-state.sh workato/rlcm.state.json" in s.get("run", "")
                   for s in steps)  # fmt: skip
    gitlab = load_ci_yaml(EXAMPLES / "gitlab-ci-waves.yml")
    for name in ("apply-canary", "apply-fleet"):
        assert "after_script" not in gitlab[name]  # its failure would not fail the job
        script = "\n".join(str(line) for line in gitlab[name]["script"])
        assert 'git checkout --quiet -B "${CI_DEFAULT_BRANCH}" FETCH_HEAD' in script
        assert "bash ci/push-state.sh workato/rlcm.state.json" in script
    for path in (
        EXAMPLES / "github-actions" / "rlcm-apply-waves.yml",
        EXAMPLES / "gitlab-ci-waves.yml",
    ):
        assert "git push" not in _steps(path)


def test_postgres_applies_commit_nothing() -> None:
    for path in PG_APPLIES:
        text = _steps(path)
        assert "git " not in text and "push-state" not in text
        assert "RLCM_STATE_DSN" in path.read_text()
    github = load_ci_yaml(PG_APPLIES[0])
    assert github["permissions"]["contents"] == "read"


@pytest.mark.parametrize("path", PG_APPLIES, ids=lambda p: p.name)
def test_postgres_apply_lines_keep_the_state_in_the_database(
    path: Path, tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "workato"
    shutil.copytree(
        ROOT / "examples" / "manifests",
        config,
        ignore=shutil.ignore_patterns(".*", "rlcm.state.json*"),
    )
    workspace = config / "workspace.yaml"
    workspace.write_text(
        workspace.read_text()
        .replace(
            "poll: {interval: 0.5, max_interval: 5}", "poll: {interval: 0.01, max_interval: 0.05}"
        )
        .replace("rate_limits: {other: 600}", "rate_limits: {other: 100000}")
    )
    (config / "state.yaml").write_text(
        "kind: State\nbackend: postgres\npostgres: {dsn_env: RLCM_STATE_DSN, key: ci}\n"
    )
    Simulator(config / ".rlcm" / "sim").seed_demo()
    (tmp_path / "reports").mkdir()
    monkeypatch.chdir(tmp_path)
    env = {"WORKATO_API_TOKEN": "demo-token", "RLCM_STATE_DSN": pg_dsn}
    applies = [a for a in rlcm_command_lines(path) if a[0] == "apply"]
    assert applies
    for args in applies:
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code in (0, 3), result.stderr
    assert not (config / "rlcm.state.json").exists()
    stored = PostgresBackend("RLCM_STATE_DSN", key="ci", dsn=pg_dsn).read()
    assert stored.imports and stored.serial > 0

"""`kind: State`: where the state lives, checked offline with file:line:col errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config import load_desired, load_state_spec
from reconciler.config.desired import StateSpec

Errors = Callable[[Path], list[str]]
Write = Callable[..., Path]

POSTGRES = """\
---
kind: State
backend: postgres
postgres: {dsn_env: RLCM_STATE_DSN, key: partner-prod, schema: rlcm_ci}
history: 50
lock_timeout: 30
"""


def test_a_postgres_state_is_read_with_its_settings(write: Write, base_yaml: str) -> None:
    path = write(base_yaml + POSTGRES)
    spec = load_desired(path).state
    assert (spec.backend, spec.dsn_env, spec.key, spec.schema) == (
        "postgres", "RLCM_STATE_DSN", "partner-prod", "rlcm_ci"
    )  # fmt: skip
    assert (spec.history, spec.lock_timeout) == (50, 30.0)
    assert spec.location is not None and spec.location.line == 23
    assert load_state_spec(path) == spec


def test_without_a_state_document_the_file_backend(write: Write, base_yaml: str) -> None:
    assert load_desired(write(base_yaml)).state == StateSpec()


def test_inconsistent_state_documents_name_file_and_line(
    write: Write, errors_of: Errors, base_yaml: str
) -> None:
    path = write(
        base_yaml
        + "---\nkind: State\nbackend: postgres\n"
        + "---\nkind: State\npostgres: {dsn_env: X}\nlock_timeout: 5\n"
    )
    assert errors_of(path) == [
        "config.yaml:23:1: state: backend postgres needs a postgres: {dsn_env: VARIABLE} block",
        "config.yaml:26:1: state: only one State is allowed (first at config.yaml:23:1)",
    ]
    path = write(base_yaml + "---\nkind: State\npostgres: {dsn_env: X}\nlock_timeout: 5\n")
    assert errors_of(path) == [
        "config.yaml:24:1: state: a postgres block needs backend: postgres (the backend is file)",
        "config.yaml:25:1: state: lock_timeout applies to backend: postgres only",
    ]


def test_a_dsn_pasted_into_yaml_is_refused_unechoed(
    write: Write, errors_of: Errors, base_yaml: str
) -> None:
    secret = "postgresql://rlcm:hunter2-pw@db.example/rlcm"
    path = write(
        base_yaml + f"---\nkind: State\nbackend: postgres\npostgres: {{dsn_env: '{secret}'}}\n"
    )
    (line,) = errors_of(path)
    assert line.startswith("config.yaml:25:21: state: postgres.dsn_env:")
    assert "environment variable name" in line and "hunter2" not in line


def test_state_commands_read_only_the_state_document(write: Write, tmp_path: Path) -> None:
    """`rlcm state unlock` works while the rest of the config is being fixed."""
    write("kind: Manifest\nname: broken\n", name="broken.yaml")
    write("kind: State\nbackend: file\n", name="state.yaml")
    result = CliRunner().invoke(cli, ["state", "unlock", "-c", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "State is not locked.\n"
    write("kind: State\nbackend: postgress\n", name="state.yaml")
    result = CliRunner().invoke(cli, ["state", "list", "-c", str(tmp_path)])
    assert result.exit_code == 1
    assert "state.yaml:2:10: state: backend:" in result.stderr

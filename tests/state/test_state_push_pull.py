"""Moving state between the file backend and PostgreSQL: `rlcm state push FILE` and
`rlcm state pull --out FILE` keep lineage, serial and history (real server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.state.backends import FileBackend
from reconciler.state.backends.postgres import PostgresBackend
from reconciler.state.encode import encode_state
from reconciler.state.model import State

DSN_ENV = "RLCM_MIGRATE_DSN"
STATE_DOC = f"""\
kind: State
backend: postgres
postgres: {{dsn_env: {DSN_ENV}, key: moved}}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "state.yaml").write_text(STATE_DOC)
    return directory


def _file_with_history(path: Path, state_factory: Callable[..., State]) -> State:
    backend = FileBackend(path)
    state = state_factory(imports=3)
    with backend.lock("apply"):
        for _ in range(3):
            state.imports.pop(next(iter(state.imports)))
            backend.write(state)
    return state


def _run(config: Path, dsn: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "-c", str(config)], env={DSN_ENV: dsn})


def test_push_then_pull_keeps_lineage_serial_and_history(
    tmp_path: Path, config: Path, pg_dsn: str, state_factory: Callable[..., State]
) -> None:
    source = tmp_path / "old" / "rlcm.state.json"
    source.parent.mkdir()
    state = _file_with_history(source, state_factory)

    pushed = _run(config, pg_dsn, "state", "push", str(source))
    assert pushed.exit_code == 0, pushed.output
    assert f"Pushed serial 3 (lineage {state.lineage}) and 2 earlier serials" in pushed.stdout
    pg = PostgresBackend(DSN_ENV, key="moved", dsn=pg_dsn)
    stored = pg.read()
    assert (stored.lineage, stored.serial) == (state.lineage, 3)
    assert stored.model_dump() == state.model_dump()
    assert [e.serial for e in pg.history()] == [1, 2, 3]
    assert pg.read_serial(2).model_dump() == FileBackend(source).read_serial(2).model_dump()
    listed = _run(config, pg_dsn, "state", "list")
    assert listed.stdout.splitlines() == state.addresses()

    printed = _run(config, pg_dsn, "state", "pull")
    assert printed.stdout.encode() == encode_state(state)
    back = tmp_path / "back" / "rlcm.state.json"
    back.parent.mkdir()
    pulled = _run(config, pg_dsn, "state", "pull", "--out", str(back))
    assert pulled.exit_code == 0, pulled.output
    assert "Wrote serial 3" in pulled.stdout
    file = FileBackend(back)
    again = file.read()
    assert (again.lineage, again.serial) == (state.lineage, 3)
    assert [e.serial for e in file.history()] == [1, 2, 3]
    assert file.read_serial(1).model_dump() == pg.read_serial(1).model_dump()
    file.write(again)  # the history goes on from there
    assert again.serial == 4


def test_push_refuses_another_history_and_going_back(
    tmp_path: Path, config: Path, pg_dsn: str, state_factory: Callable[..., State]
) -> None:
    source = tmp_path / "rlcm.state.json"
    state = _file_with_history(source, state_factory)
    assert _run(config, pg_dsn, "state", "push", str(source)).exit_code == 0
    older = tmp_path / "older.json"
    older.write_text(json.dumps({**json.loads(source.read_text()), "serial": 2}))
    refused = _run(config, pg_dsn, "state", "push", str(older))
    assert refused.exit_code == 1
    assert "is at serial 3, newer than the pushed state's 2" in refused.stderr
    other = tmp_path / "other.json"
    FileBackend(other).write(state_factory())
    refused = _run(config, pg_dsn, "state", "push", str(other))
    assert refused.exit_code == 1 and "holds another history" in refused.stderr
    assert PostgresBackend(DSN_ENV, key="moved", dsn=pg_dsn).read().serial == state.serial


def test_state_file_flag_with_a_postgres_config_is_refused(
    tmp_path: Path, config: Path, pg_dsn: str
) -> None:
    (config / "rest.yaml").write_text(
        "kind: Workspace\nname: partner\napi: {base_url: 'sim://sim'}\n---\n"
        "kind: Source\nworkspace: partner\nmanaged_user: E-template\n"
    )
    result = _run(config, pg_dsn, "plan", "--state", str(tmp_path / "x.json"))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "names a state file, but the config keeps its state in PostgreSQL" in line
    assert "state.yaml:1:1" in line

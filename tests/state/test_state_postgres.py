"""The PostgreSQL backend against a real server (started by tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import psycopg
import pytest

from reconciler.errors import LockError, StateError
from reconciler.state.backends.postgres import LATEST_SCHEMA, MIGRATIONS, PostgresBackend
from reconciler.state.model import State

DSN_ENV = "RLCM_TEST_STATE_DSN"


@pytest.fixture
def make(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., PostgresBackend]:
    monkeypatch.setenv(DSN_ENV, pg_dsn)

    def make(key: str = "default", **kwargs: object) -> PostgresBackend:
        return PostgresBackend(DSN_ENV, key=key, **kwargs)  # type: ignore[arg-type]

    return make


def test_first_use_creates_the_schema_and_round_trips(
    make: Callable[..., PostgresBackend], pg_dsn: str, state_factory: Callable[..., State]
) -> None:
    backend = make()
    assert backend.read().serial == 0
    state = state_factory(imports=3)
    backend.write(state)
    backend.write(state)
    again = make().read()
    assert again.serial == 2 == state.serial
    assert again.model_dump() == state.model_dump()
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT max(version) FROM rlcm.schema_version").fetchone()
    assert row == (LATEST_SCHEMA,)


def test_an_older_schema_is_migrated_and_keeps_its_state(
    make: Callable[..., PostgresBackend], pg_dsn: str
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA rlcm")
        conn.execute("CREATE TABLE rlcm.schema_version (version integer)")
        for statement in MIGRATIONS[1]:
            conn.execute(statement.format(s="rlcm"))
        conn.execute("INSERT INTO rlcm.schema_version VALUES (1)")
        body = '{"format_version": 1, "lineage": "old-one", "serial": 7}'
        conn.execute(
            "INSERT INTO rlcm.states VALUES ('default', 'old-one', 7, %s, 'then', 'apply')",
            (body,),
        )
    backend = make()
    state = backend.read()
    assert (state.lineage, state.serial) == ("old-one", 7)
    with backend.lock("apply"):  # the table version 2 added
        backend.write(state)
    assert make().read().serial == 8


def test_a_schema_from_a_newer_rlcm_is_refused(
    make: Callable[..., PostgresBackend], pg_dsn: str
) -> None:
    make().read()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO rlcm.schema_version VALUES (%s)", (LATEST_SCHEMA + 1,))
    with pytest.raises(StateError, match=r"newer than this rlcm knows.*upgrade rlcm"):
        make().read()


def test_a_stale_write_and_another_history_are_refused(
    make: Callable[..., PostgresBackend], state_factory: Callable[..., State]
) -> None:
    first, second = make(), make()
    first.write(state_factory())
    mine, theirs = first.read(), second.read()
    second.write(theirs)
    with pytest.raises(StateError, match=r"written by someone else.*serial 2 stored, 1 when read"):
        first.write(mine)
    assert mine.serial == 1  # nothing written: the serial it had
    other = State()
    other.serial = 5
    with pytest.raises(StateError, match="holds another history"):
        first.write(other)
    assert make().read().serial == 2


def test_configs_sharing_a_database_each_have_their_key(
    make: Callable[..., PostgresBackend], state_factory: Callable[..., State]
) -> None:
    prod, test = make("prod"), make("test")
    prod.write(state_factory(imports=2))
    assert test.read().serial == 0
    with prod.lock("apply"), test.lock("apply"):  # one lock per key
        test.write(state_factory(imports=0))
    assert len(make("prod").read().imports) == 2
    assert len(make("test").read().imports) == 0


def test_a_second_locker_is_refused_naming_the_holder(make: Callable[..., PostgresBackend]) -> None:
    with make().lock("apply") as held:
        with pytest.raises(LockError) as refused, make().lock("plan --out"):
            pass
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message and "apply" in message
        assert held.info.host in message and held.info.started_at in message
        holder = make().holder()
        assert holder is not None and holder.command == "apply"
    assert make().holder() is None
    with make().lock("apply"):
        pass


def test_lock_timeout_waits_for_the_holder(make: Callable[..., PostgresBackend]) -> None:
    waiting = make(lock_timeout=0.5)
    started = time.monotonic()
    with make().lock("apply"), pytest.raises(LockError, match=r"waited 0\.5s"), waiting.lock("x"):
        pass
    assert time.monotonic() - started >= 0.5


HOLDER = textwrap.dedent(
    """
    import sys, time
    from reconciler.state.backends.postgres import PostgresBackend
    with PostgresBackend(sys.argv[1]).lock("apply"):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_a_killed_holders_lock_ends_with_its_session(
    make: Callable[..., PostgresBackend], state_factory: Callable[..., State]
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, DSN_ENV], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockError, match=f"pid {proc.pid}"), make().lock("apply"):
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close() if proc.stdout else None
    deadline = time.monotonic() + 10
    while make().holder() is not None:  # the server notices the closed socket at once
        assert time.monotonic() < deadline, "the dead session's lock never ended"
        time.sleep(0.05)
    with make().lock("apply") as held:
        assert held.warning is not None and f"pid {proc.pid}" in held.warning
        make().read()


def test_unlock_force_ends_the_holding_session(make: Callable[..., PostgresBackend]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, DSN_ENV], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockError, match="may still be running; use `rlcm state unlock"):
            make().unlock(force=False)
        assert "Ended the PostgreSQL session" in make().unlock(force=True)
        assert make().holder() is None
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close() if proc.stdout else None
    assert make().unlock(force=False) == "State is not locked."


def test_history_keeps_every_serial_up_to_the_retention(
    make: Callable[..., PostgresBackend], state_factory: Callable[..., State]
) -> None:
    backend = make(keep=3)
    state = state_factory(imports=1)
    with backend.lock("apply"):
        for _ in range(5):
            backend.write(state)
    entries = make().history()
    assert [e.serial for e in entries] == [3, 4, 5]
    assert {e.command for e in entries} == {"apply"}
    assert make().read_serial(4).serial == 4
    with pytest.raises(StateError, match=r"no serial 1; kept serials: 3\.\.5"):
        make().read_serial(1)


def test_a_missing_dsn_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLCM_NOT_SET_DSN", raising=False)
    with pytest.raises(StateError, match="environment variable RLCM_NOT_SET_DSN"):
        PostgresBackend("RLCM_NOT_SET_DSN").read()


def test_a_refused_password_is_not_echoed(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = pg_dsn.replace("password=", "password=wrong-") + " connect_timeout=5"
    monkeypatch.setenv(DSN_ENV, wrong)
    with pytest.raises(StateError) as refused:
        PostgresBackend(DSN_ENV).read()
    message = str(refused.value)
    assert "cannot connect to PostgreSQL at 127.0.0.1:" in message and DSN_ENV in message
    password = wrong.split("password=")[1].split()[0]
    assert password not in message


def test_a_server_restart_while_locked_is_a_clear_error_and_loses_nothing(
    make: Callable[..., PostgresBackend],
    state_factory: Callable[..., State],
    pg_restart: Callable[[], None],
) -> None:
    backend = make()
    state = state_factory(imports=2)
    with pytest.raises(StateError) as lost, backend.lock("apply"):
        backend.write(state)
        pg_restart()
        backend.write(state)
    assert "lost the connection to PostgreSQL" in str(lost.value)
    assert "everything written before is kept" in str(lost.value)
    assert make().read().serial == 1 == state.serial
    with make().lock("apply"):  # the lock went with the session
        pass

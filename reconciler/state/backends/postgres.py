"""The PostgreSQL backend: state that survives CI runners, with an advisory lock and history.

Configured by the *name* of an environment variable holding the DSN (kind: State, see
docs/state.md); the DSN's password is registered with reconciler/redact.py and never
printed, logged or stored. Several configs share one database: each has its `key`.

- Schema: created on first use in the configured schema (default `rlcm`) and migrated by
  version (`schema_version`), under a transaction-level advisory lock so two first runs
  cannot race. A database migrated by a newer rlcm is refused.
- Writes: one transaction each, `SELECT ... FOR UPDATE` of the key's row, the same lineage
  and serial checks as the file backend, the new body, one history row, the retention
  prune. So every recorded step is on the server before the applier goes on
  (write-through): a runner that dies loses nothing already recorded.
- Lock: a session-level advisory lock (`pg_try_advisory_lock(classid, objid)`) held on a
  dedicated connection while a command runs; when a runner dies, its session ends and
  the server releases the lock. The holder (user@host, pid, command, since) is written
  to the `locks` table beside it, for `rlcm state list` and `rlcm state unlock`.
- A lost connection (server restart, network) is one clear StateError: what was
  written before stays; the lock went with the session, so the run stops.

Advisory locks and pg_locks: https://www.postgresql.org/docs/15/explicit-locking.html
(section 13.3.5) and https://www.postgresql.org/docs/15/view-pg-locks.html (a lock taken
with two int4 keys shows classid, objid and objsubid = 2).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from reconciler.errors import LockError, StateError
from reconciler.redact import register_secret
from reconciler.state.backends.base import (
    HistoryEntry,
    StateBackend,
    Summarizer,
    check_push,
    unknown_serial,
)
from reconciler.state.encode import Changes, StateEncoder
from reconciler.state.lock import LockInfo, lock_ttl, our_lock_info
from reconciler.state.model import State
from reconciler.state.store import StateStore

if TYPE_CHECKING:
    import psycopg

__all__ = ["DEFAULT_PG_HISTORY", "LATEST_SCHEMA", "MIGRATIONS", "PostgresBackend", "dsn_from_env"]

log = logging.getLogger(__name__)

DEFAULT_PG_HISTORY = 1000
LOCK_CLASS = 0x726C636D  # "rlcm": the advisory lock's first key; the second is per state key
LOCK_POLL = 0.2  # seconds between tries while waiting for the lock
CONNECT_TIMEOUT = 10

# version -> statements; {s} is the schema (quoted). Never edit a released step: add one.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE {s}.states (key text PRIMARY KEY, lineage text NOT NULL, "
        "serial bigint NOT NULL, body text NOT NULL, written_at text NOT NULL, "
        "command text NOT NULL)",
        "CREATE TABLE {s}.history (key text NOT NULL, lineage text NOT NULL, "
        "serial bigint NOT NULL, written_at text NOT NULL, command text NOT NULL, "
        "summary text NOT NULL, body text NOT NULL, PRIMARY KEY (key, lineage, serial))",
    ),
    2: (
        "CREATE TABLE {s}.locks (key text PRIMARY KEY, holder text NOT NULL, "
        "host text NOT NULL, pid integer NOT NULL, command text NOT NULL, "
        "since text NOT NULL, ttl integer NOT NULL, session_pid integer NOT NULL)",
    ),
}
LATEST_SCHEMA = max(MIGRATIONS)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dsn_from_env(dsn_env: str, where: str = "") -> str:
    """The DSN in `$dsn_env`, its password registered as a secret; StateError if unset."""
    dsn = os.environ.get(dsn_env, "").strip()
    at = f" ({where})" if where else ""
    if not dsn:
        raise StateError(
            f"the PostgreSQL state needs a DSN in the environment variable {dsn_env}{at}, "
            "which is not set or empty"
        )
    _register_password(dsn)
    return dsn


def _register_password(dsn: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    register_secret(os.environ.get("PGPASSWORD"))
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # a malformed DSN: hide all of it, it may hold a password anywhere
        register_secret(dsn)
        return
    password = params.get("password")
    if isinstance(password, str):
        register_secret(password)
        register_secret(quote(password, safe=""))
        register_secret(quote(password))


def _server(dsn: str) -> str:
    """host:port/dbname for messages (never the user's password)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except Exception:
        return "the server"
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or "5432")
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


@dataclass
class PgHeldLock:
    """The advisory lock this process holds, on its own connection."""

    info: LockInfo
    conn: psycopg.Connection[Any]
    warning: str | None = None


class PostgresBackend(StateBackend):
    """One config's state (`key`) in the database `$dsn_env` points at."""

    def __init__(
        self,
        dsn_env: str,
        *,
        key: str = "default",
        schema: str = "rlcm",
        keep: int = DEFAULT_PG_HISTORY,
        lock_timeout: float = 0.0,
        local_dir: Path = Path("."),
        config_where: str = "",
        dsn: str | None = None,
    ) -> None:
        """`dsn` given (tests, programs) is used instead of `$dsn_env`, as secret."""
        self.dsn_env = dsn_env
        self.key = key
        self.schema = schema
        self.keep = keep
        self.lock_timeout = lock_timeout
        self.local_dir = local_dir
        self.config_where = config_where
        self.where = f"PostgreSQL state {key!r}"
        self._dsn: str | None = None
        if dsn is not None:
            _register_password(dsn)
            self._dsn = dsn
        self._held: PgHeldLock | None = None
        self._encoder = StateEncoder()
        self._summarizer = Summarizer()
        self._command = "rlcm"
        self._migrated = False
        self._objid = zlib.crc32(f"{schema}.{key}".encode()) & 0x7FFFFFFF

    # -- connections ---------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        if self._dsn is None:
            self._dsn = dsn_from_env(self.dsn_env, self.config_where)
        return self._dsn

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - a dependency of rlcm; a broken install
            raise StateError(
                "the PostgreSQL state backend needs psycopg: pip install 'rlcm[postgres]'"
            ) from None
        dsn = self.dsn
        extra: dict[str, Any] = {}
        if "connect_timeout" not in dsn:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        try:
            conn = psycopg.connect(dsn, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise StateError(
                f"{self.where}: cannot connect to PostgreSQL at {_server(dsn)} "
                f"(from {self.dsn_env}): {_reason(exc)}"
            ) from None
        try:
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _conn(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        """The lock's connection while locked, else a short-lived one; errors made clear."""
        import psycopg

        held = self._held
        conn = held.conn if held is not None else self._connect()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            raise StateError(
                f"{self.where}: lost the connection to PostgreSQL at {_server(self.dsn)} "
                f"while {doing}: {_reason(exc)}; everything written before is kept there. "
                "Run the command again once the server is back"
            ) from None
        except psycopg.Error as exc:
            raise StateError(f"{self.where}: PostgreSQL refused {doing}: {_reason(exc)}") from None
        finally:
            if held is None:
                conn.close()

    def _sql(self, text: str) -> Any:
        from psycopg import sql

        return sql.SQL(text).format(s=sql.Identifier(self.schema))

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        """Create the schema on first use and bring it to LATEST_SCHEMA, step by step.

        A schema already at the latest version is only read (a role without the right to
        create schemas can use one made for it); otherwise the steps run in one
        transaction under an advisory lock, so two first runs cannot race."""
        if self._migrated:
            return
        import psycopg

        try:
            if self._version(conn) != LATEST_SCHEMA:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
                    conn.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {s}"))
                    conn.execute(
                        self._sql("CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer)")
                    )
                    self._upgrade(conn, self._version(conn))
        except psycopg.Error as exc:
            raise StateError(
                f"{self.where}: cannot create or migrate schema {self.schema}: {_reason(exc)}"
            ) from None
        self._migrated = True

    def _version(self, conn: psycopg.Connection[Any]) -> int:
        """The schema's version; 0 before rlcm's first use; StateError if newer than ours."""
        name = f'"{self.schema}".schema_version'
        made = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
        if made is None or made[0] is None:
            return 0
        found = conn.execute(self._sql("SELECT max(version) FROM {s}.schema_version")).fetchone()
        version = int(found[0]) if found and found[0] is not None else 0
        if version > LATEST_SCHEMA:
            raise StateError(
                f"{self.where}: schema {self.schema} is at version {version}, newer "
                f"than this rlcm knows ({LATEST_SCHEMA}); upgrade rlcm"
            )
        return version

    def _upgrade(self, conn: psycopg.Connection[Any], version: int) -> None:
        for step in range(version + 1, LATEST_SCHEMA + 1):
            for statement in MIGRATIONS[step]:
                conn.execute(self._sql(statement))
            conn.execute(self._sql("INSERT INTO {s}.schema_version (version) VALUES (%s)"), (step,))
            log.info("state: migrated schema=%s version=%s", self.schema, step)

    # -- state ---------------------------------------------------------------------------

    def read(self) -> State:
        with self._conn("reading the state") as conn:
            row = conn.execute(
                self._sql("SELECT body FROM {s}.states WHERE key = %s"), (self.key,)
            ).fetchone()
        state = State() if row is None else self._decode(str(row[0]))
        self._summarizer.reset(state)
        return state

    def _decode(self, body: str) -> State:
        return _Decoder(f"{self.where} is refused and left untouched:").decode(body.encode())

    def write(self, state: State, changed: Changes | None = None) -> None:
        summary = self._summarizer.summary(state, changed)
        state.serial += 1
        try:
            body = self._encoder.encode(state, changed).decode()
            with self._conn(f"writing serial {state.serial}") as conn, conn.transaction():
                self._check_and_store(conn, state, body, summary, expected=state.serial - 1)
        except BaseException:
            state.serial -= 1  # nothing was written: the state keeps the serial it had
            raise

    def _check_and_store(
        self,
        conn: psycopg.Connection[Any],
        state: State,
        body: str,
        summary: str,
        *,
        expected: int | None,
    ) -> None:
        """Compare and swap: `expected` is the serial the stored row must have (None: push,
        whose checks were made by the caller inside this same transaction)."""
        row = conn.execute(
            self._sql("SELECT lineage, serial FROM {s}.states WHERE key = %s FOR UPDATE"),
            (self.key,),
        ).fetchone()
        if row is not None and expected is not None:
            lineage, serial = str(row[0]), int(row[1])
            if lineage != state.lineage:
                raise StateError(
                    f"{self.where} holds another history (lineage {lineage}, not "
                    f"{state.lineage}); refusing to overwrite it"
                )
            if serial > expected:
                raise StateError(
                    f"{self.where} was written by someone else since it was read (serial "
                    f"{serial} stored, {expected} when read); refusing to overwrite it: run "
                    "the command again"
                )
        now = _now()
        conn.execute(
            self._sql(
                "INSERT INTO {s}.states (key, lineage, serial, body, written_at, command) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                "lineage = EXCLUDED.lineage, serial = EXCLUDED.serial, body = EXCLUDED.body, "
                "written_at = EXCLUDED.written_at, command = EXCLUDED.command"
            ),
            (self.key, state.lineage, state.serial, body, now, self._command),
        )
        self._keep_serial(conn, state.lineage, state.serial, now, self._command, summary, body)

    def _keep_serial(
        self,
        conn: psycopg.Connection[Any],
        lineage: str,
        serial: int,
        written_at: str,
        command: str,
        summary: str,
        body: str,
    ) -> None:
        if self.keep <= 0:
            return
        conn.execute(
            self._sql(
                "INSERT INTO {s}.history (key, lineage, serial, written_at, command, summary, "
                "body) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key, lineage, serial) "
                "DO UPDATE SET written_at = EXCLUDED.written_at, command = EXCLUDED.command, "
                "summary = EXCLUDED.summary, body = EXCLUDED.body"
            ),
            (self.key, lineage, serial, written_at, command, summary, body),
        )
        conn.execute(
            self._sql("DELETE FROM {s}.history WHERE key = %s AND serial <= %s"),
            (self.key, serial - self.keep),
        )

    # -- locking -------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, command: str) -> Iterator[PgHeldLock]:
        if self._held is not None:
            raise StateError(f"{self.where}: the lock is already held by this process")
        conn = self._connect()
        try:
            held = self._acquire(conn, command)
        except BaseException:
            conn.close()
            raise
        self._held, self._command = held, command
        try:
            yield held
        finally:
            self._held, self._command = None, "rlcm"
            self._release(held)

    def _acquire(self, conn: psycopg.Connection[Any], command: str) -> PgHeldLock:
        import psycopg

        deadline = time.monotonic() + self.lock_timeout
        try:
            while not self._try_lock(conn):
                if time.monotonic() >= deadline:
                    raise LockError(self._refusal(conn))
                time.sleep(LOCK_POLL)
            info = our_lock_info(command)
            previous = self._lock_row(conn)
            conn.execute(
                self._sql(
                    "INSERT INTO {s}.locks (key, holder, host, pid, command, since, ttl, "
                    "session_pid) VALUES (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid()) "
                    "ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder, "
                    "host = EXCLUDED.host, pid = EXCLUDED.pid, command = EXCLUDED.command, "
                    "since = EXCLUDED.since, ttl = EXCLUDED.ttl, "
                    "session_pid = EXCLUDED.session_pid"
                ),
                (self.key, info.holder, info.host, info.pid, info.command, info.started_at,
                 info.ttl),
            )  # fmt: skip
        except psycopg.Error as exc:
            raise StateError(f"{self.where}: cannot take the lock: {_reason(exc)}") from None
        held = PgHeldLock(info, conn)
        if previous is not None:
            held.warning = (
                f"took over the state lock of {previous[0].describe()}: its PostgreSQL session "
                "ended, so its run did not finish"
            )
        return held

    def _try_lock(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, self._objid)
        ).fetchone()
        return bool(row and row[0])

    def _session_holding(self, conn: psycopg.Connection[Any]) -> int | None:
        """The PostgreSQL backend pid of the session holding the lock, None if free."""
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
            "classid = %s AND objid = %s AND objsubid = 2",
            (LOCK_CLASS, self._objid),
        ).fetchone()
        return int(row[0]) if row else None

    def _lock_row(self, conn: psycopg.Connection[Any]) -> tuple[LockInfo, int] | None:
        row = conn.execute(
            self._sql(
                "SELECT holder, pid, host, since, command, ttl, session_pid FROM {s}.locks "
                "WHERE key = %s"
            ),
            (self.key,),
        ).fetchone()
        if row is None:
            return None
        info = LockInfo(
            holder=str(row[0]), pid=int(row[1]), host=str(row[2]), started_at=str(row[3]),
            command=str(row[4]), ttl=int(row[5]),
        )  # fmt: skip
        return info, int(row[6])

    def _refusal(self, conn: psycopg.Connection[Any]) -> str:
        session = self._session_holding(conn)
        row = self._lock_row(conn)
        waited = f" (waited {self.lock_timeout:g}s)" if self.lock_timeout > 0 else ""
        if row is not None and row[1] == session:
            return f"state is locked by {row[0].describe()} in {self.where}{waited}"
        return (
            f"state is locked by another PostgreSQL session (backend pid {session}) in "
            f"{self.where}{waited}"
        )

    def _release(self, held: PgHeldLock) -> None:
        import psycopg

        conn = held.conn
        try:
            if not conn.closed:
                conn.execute(
                    self._sql(
                        "DELETE FROM {s}.locks WHERE key = %s AND session_pid = pg_backend_pid()"
                    ),
                    (self.key,),
                )
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, self._objid))
        except psycopg.Error as exc:  # the session is gone: so is its lock
            log.debug("state: lock release failed: %s", _reason(exc))
        finally:
            conn.close()

    def holder(self) -> LockInfo | None:
        with self._conn("reading the lock") as conn:
            session = self._session_holding(conn)
            if session is None:
                return None
            row = self._lock_row(conn)
        if row is not None and row[1] == session:
            return row[0]
        return LockInfo(
            holder="unknown", pid=session, host="postgresql", started_at="?",
            command="?", ttl=lock_ttl(),
        )  # fmt: skip

    def unlock(self, *, force: bool) -> str:
        with self._conn("unlocking") as conn:
            session = self._session_holding(conn)
            row = self._lock_row(conn)
            if session is None:
                if row is None:
                    return "State is not locked."
                self._delete_lock_row(conn)
                return (
                    f"Removed the lock record of {row[0].describe()} (its PostgreSQL session "
                    "is gone, and with it the lock)."
                )
            who = row[0].describe() if row is not None and row[1] == session else "unknown"
            if not force:
                raise LockError(
                    f"state is locked by {who} (PostgreSQL session {session}), which may still "
                    "be running; use `rlcm state unlock --force` to end that session"
                )
            conn.execute("SELECT pg_terminate_backend(%s)", (session,))
            self._delete_lock_row(conn)
        return (
            f"Ended the PostgreSQL session {session} holding the lock of {who}; its run stops "
            "at its next write."
        )

    def _delete_lock_row(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(self._sql("DELETE FROM {s}.locks WHERE key = %s"), (self.key,))

    # -- history -------------------------------------------------------------------------

    def history(self) -> list[HistoryEntry]:
        with self._conn("reading the history") as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT serial, lineage, written_at, command, summary FROM {s}.history "
                    "WHERE key = %s ORDER BY serial, written_at"
                ),
                (self.key,),
            ).fetchall()
        return [HistoryEntry(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]

    def read_serial(self, serial: int) -> State:
        with self._conn(f"reading serial {serial}") as conn:
            row = conn.execute(
                self._sql(
                    "SELECT h.body FROM {s}.history h LEFT JOIN {s}.states s ON s.key = h.key "
                    "WHERE h.key = %s AND h.serial = %s "
                    "ORDER BY (h.lineage = s.lineage) DESC, h.written_at DESC LIMIT 1"
                ),
                (self.key, serial),
            ).fetchone()
            if row is None:
                current = conn.execute(
                    self._sql("SELECT serial, body FROM {s}.states WHERE key = %s"), (self.key,)
                ).fetchone()
                if current is not None and int(current[0]) == serial:
                    return self._decode(str(current[1]))
        if row is None:
            raise unknown_serial(self.where, serial, [e.serial for e in self.history()])
        return self._decode(str(row[0]))

    def push(self, state: State, history: list[tuple[HistoryEntry, State]]) -> None:
        from reconciler.state.encode import encode_state

        with self._conn("pushing the state") as conn, conn.transaction():
            row = conn.execute(
                self._sql("SELECT body FROM {s}.states WHERE key = %s FOR UPDATE"), (self.key,)
            ).fetchone()
            current = State() if row is None else self._decode(str(row[0]))
            check_push(self.where, current, state, stored=row is not None)
            kept = history[-self.keep :] if self.keep > 0 else []
            for entry, old in kept:
                self._keep_serial(
                    conn, entry.lineage, entry.serial, entry.written_at, entry.command,
                    entry.summary, encode_state(old).decode(),
                )  # fmt: skip
            self._check_and_store(
                conn, state, encode_state(state).decode(), "pushed", expected=None
            )


class _Decoder(StateStore):
    """The file backend's checks (JSON, format_version, model) on a body from the server."""

    def __init__(self, refusal: str) -> None:
        super().__init__(Path("unused"))
        self._refusal_text = refusal

    def _refusal(self) -> str:
        return self._refusal_text


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

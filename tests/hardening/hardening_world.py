"""The hardening suite's world: a seeded simulator, a small config, canary credentials.

Every test here runs the real `rlcm` command line (in process through click's CliRunner, or
as a subprocess where a real traceback or a kill is needed) against the in-process
simulator. The simulator accepts only the canary credentials, so a leak of them anywhere
is a leak of a real secret. Figures go to the file the suite-wide conftest sums.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.simulator.core import Simulator
from reconciler.state.backends import FileBackend, StateBackend
from reconciler.state.backends.postgres import PostgresBackend
from reconciler.state.model import State

CANARY_TOKEN = "cnry-tok-5d1f0b7e9a2c4486"
CANARY_EMAIL = "cnry-mail-83be@leak.example"
CANARIES = (CANARY_TOKEN, CANARY_EMAIL)
TOKEN_ENV = "RLCM_HARDENING_TOKEN"
EMAIL_ENV = "RLCM_HARDENING_EMAIL"
FIGURES_ENV = "RLCM_HARDENING_FIGURES"
DSN_ENV = "RLCM_HARDENING_STATE_DSN"
DEBUG_FLAGS = ("--debug", "-vv")


def record(figure: str, n: int = 1) -> None:
    """Add to one of the suite's figures (summed by tests/conftest.py)."""
    name = os.environ.get(FIGURES_ENV)
    if not name or n == 0:
        return
    line = (json.dumps({"figure": figure, "n": n}) + "\n").encode()
    fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


MANIFESTS = """\
kind: Manifest
name: shared-connections
folder_id: 110
assets:
  - {type: connection, name: Salesforce}
  - {type: connection, name: Slack}
---
kind: Manifest
name: crm-sync
folder_id: 112
depends_on: [shared-connections]
assets:
  - {type: recipe, name: Sync accounts}
"""
SPARE_MANIFEST = """\
---
kind: Manifest
name: billing-alerts
folder_id: 114
auto_generate: {}
"""
TARGET = """\
kind: Target
name: acme
workspace: partner
customer: E-acme-001
folder_id: 1827
folder_id_for_home_assets: 1830
manifests: [shared-connections, crm-sync]
restart_recipes: true
"""


# how long a step waits on one job, and on a lost import answer showing up in the target
# folder: the simulator's jobs end after a few polls, so only a lost answer whose import never
# happened (the fault matrix's import faults) waits this out
POLL_TIMEOUT = 5.0


def workspace_yaml(auth: str = "bearer", timeout: float = 2.0) -> str:
    email = f"\n  email_env: {EMAIL_ENV}" if auth == "legacy" else ""
    return f"""\
kind: Workspace
name: partner
api:
  base_url: sim://sim
  auth: {auth}
  token_env: {TOKEN_ENV}{email}
  timeout: {timeout}
  rate_limits: {{other: 100000, imports: 100000, import_status: 100000, dev_imports: 100000}}
  poll: {{interval: 0.01, max_interval: 0.05, timeout: {POLL_TIMEOUT:g}}}
  retry: {{attempts: 2, backoff: 0.01, max_backoff: 0.05}}
---
kind: Source
workspace: partner
managed_user: E-template
"""


@dataclass
class World:
    """A config directory beside a seeded simulator (`sim/`) that accepts only canaries."""

    root: Path
    auth: str = "bearer"
    env: dict[str, str] = field(default_factory=dict)
    pg_dsn: str | None = None  # the state lives in PostgreSQL (kind: State) when set

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never show: the canaries, and the DSN's password."""
        if self.pg_dsn is None:
            return CANARIES
        return (*CANARIES, dsn_password(self.pg_dsn))

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def state_path(self) -> Path:
        return self.config / "rlcm.state.json"

    @property
    def sim(self) -> Simulator:
        return Simulator(self.config / "sim")

    def write_config(
        self, *, spare: bool = True, timeout: float = 2.0, extra_asset: bool = False
    ) -> None:
        manifests = MANIFESTS + (SPARE_MANIFEST if spare else "")
        if extra_asset:
            manifests = manifests.replace(
                "  - {type: recipe, name: Sync accounts}\n",
                "  - {type: recipe, name: Sync accounts}\n"
                "  - {type: recipe, name: Sync contacts}\n",
            )
        (self.config / "workspace.yaml").write_text(workspace_yaml(self.auth, timeout))
        (self.config / "manifests.yaml").write_text(manifests)
        (self.config / "targets.yaml").write_text(TARGET)
        if self.pg_dsn is not None:
            (self.config / "state.yaml").write_text(PG_STATE)

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """`rlcm ARGS -c CONFIG` in process, with the canary credentials in the environment."""
        argv = [*args, "-c", str(self.config)]
        return CliRunner().invoke(cli, argv, env={**self.env, **(env or {})}, catch_exceptions=True)

    def run_process(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`python -m reconciler ARGS -c CONFIG` as a subprocess (real tracebacks)."""
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args, "-c", str(self.config)],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env, "NO_COLOR": "1"},
            timeout=timeout,
            cwd=self.root,
        )

    def backend(self) -> StateBackend:
        if self.pg_dsn is not None:
            return PostgresBackend(DSN_ENV, key="hardening", dsn=self.pg_dsn)
        return FileBackend(self.state_path)

    def state(self) -> Any:
        """The state as rlcm reads it: a StateError here is a corrupt state file."""
        return self.backend().read()

    def stored_text(self) -> str:
        """Everything rlcm keeps in the database (states, history, locks), as text."""
        if self.pg_dsn is None:
            return ""
        import psycopg

        with psycopg.connect(self.pg_dsn) as conn:
            made = conn.execute("SELECT to_regclass('rlcm.locks')").fetchone()
            if made is None or made[0] is None:
                return ""  # rlcm has not used the database yet
            rows = [
                conn.execute(f"SELECT t::text FROM rlcm.{table} t").fetchall()
                for table in ("states", "history", "locks")
            ]
        return "\n".join(str(r[0]) for table in rows for r in table)


def settle_pending(state: State | None, live: dict[int, str]) -> tuple[list[tuple[str, int]], bool]:
    """What a user does when apply refuses to create a manifest whose earlier create was
    never recorded: adopt the manifest Workato made (the ids of `live`, id -> name, not
    in state), or apply with --allow-unrecorded-create when it made none. Returns the
    (address, id) pairs to `rlcm adopt`, and whether that flag is needed."""
    if state is None or not state.pending:
        return [], False
    recorded = {m.id for m in state.manifests.values()}
    adopt: list[tuple[str, int]] = []
    force = False
    for name in sorted(state.pending):
        made = sorted(i for i, n in live.items() if n == name and i not in recorded)
        if made:
            adopt.append((f"manifest.{name}", made[0]))
        else:
            force = True
    record("pending_adopted", len(adopt))
    record("pending_forced", int(force))
    return adopt, force


PG_STATE = f"""\
kind: State
backend: postgres
postgres: {{dsn_env: {DSN_ENV}, key: hardening}}
"""


def dsn_password(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(dsn)["password"])


def make_world(root: Path, auth: str = "bearer", pg_dsn: str | None = None) -> World:
    world = World(root, auth, pg_dsn=pg_dsn)
    world.config.mkdir(parents=True)
    sim = world.sim
    sim.seed_demo()
    store = sim.engine.store
    with store.locked():
        meta = store.read("meta.json")
        meta["auth"] = {"tokens": [CANARY_TOKEN], "legacy": {CANARY_EMAIL: CANARY_TOKEN}}
        store.write("meta.json", meta)
    world.env = {TOKEN_ENV: CANARY_TOKEN, EMAIL_ENV: CANARY_EMAIL, "NO_COLOR": "1"}
    if pg_dsn is not None:
        world.env[DSN_ENV] = pg_dsn
    world.write_config()
    return world


# -- leak scanning --------------------------------------------------------------------------


def _texts_of(exc: BaseException | None) -> list[str]:
    if exc is None or isinstance(exc, SystemExit):
        return []
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def leaks_in(world: World, *texts: str | None, exc: BaseException | None = None) -> list[str]:
    """Where a canary shows up: given texts, exception text, and every file of the world
    except the simulator's own credential store (it plays Workato, which knows the token)."""
    found: list[str] = []
    secrets = world.secrets
    named = [("output", t or "") for t in texts] + [("exception", t) for t in _texts_of(exc)]
    named.append(("database", world.stored_text()))
    for where, text in named:
        found += [f"{where}: {c}" for c in secrets if c in text]
    for path in sorted(world.root.rglob("*")):
        if not path.is_file() or path.name == "meta.json":
            continue
        data = path.read_bytes()
        found += [f"{path}: {c}" for c in secrets if c.encode() in data]
    return found


def assert_no_leak(world: World, *texts: str | None, exc: BaseException | None = None) -> None:
    found = leaks_in(world, *texts, exc=exc)
    record("leak_checks")
    record("leaks", len(found))
    assert not found, found


def check_result(world: World, result: Result) -> None:
    assert_no_leak(world, result.stdout, result.stderr, exc=result.exception)

"""Randomised crash trials: `rlcm apply` signalled at a seeded moment, then run to completion.

The signal is drawn too: SIGKILL (half the kills), SIGTERM (a CI cancel), SIGINT (Ctrl-C) or
SIGINT twice (an abort). TERM and INT must leave nothing unrecorded; a SIGKILL may leave
what was in flight, each import with its pending marker (docs/state.md, the window).

Each trial draws (from its seed) a fleet layout (with or without a canary wave), the
rollout's max_parallel, the simulator's latency and job length, and one or two kill
moments (a request count in the simulator's log, or a wall-clock delay). The simulator
plays Workato over real HTTP in this test process, so only rlcm dies: whatever Workato
received before the kill stays done, as it would.

At every kill the state file must parse and validate, and every job or manifest the
simulator holds but the state does not is an "orphan": the one documented window of
reconciler/applier/steps.py (a POST whose answer arrived, or was on its way, when the kill
landed before its id was written). Orphans are bounded by what can be in flight at once
(max_parallel imports, one export per manifest, a manifest only with a `pending` marker).
After the last run, every duplicate job or manifest must be one of those orphans, and the
end state must equal a clean run's: the same manifests, packages and imports with the same
digests, and the same target folder contents.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hardening_world import record, settle_pending

from reconciler.cli import cli
from reconciler.errors import RlcmError
from reconciler.simulator.core import Simulator
from reconciler.simulator.serve import running_server
from reconciler.state.backends import FileBackend, StateBackend
from reconciler.state.backends.postgres import PostgresBackend
from reconciler.state.lock import read_lock
from reconciler.state.model import State
from reconciler.state.store import StateStore

# RLCM_CRASH_TRIALS=500 makes a soak run of the same trials with more seeds; the same trials
# run with the state in PostgreSQL (fewer: each starts and kills a server session too)
TRIALS = int(os.environ.get("RLCM_CRASH_TRIALS", "50"))
PG_TRIALS = int(os.environ.get("RLCM_PG_CRASH_TRIALS", "5"))
DSN_ENV = "RLCM_CRASH_STATE_DSN"
PG_STATE = f"""\
---
kind: State
backend: postgres
postgres: {{dsn_env: {DSN_ENV}, key: crash-trials}}
"""
CUSTOMERS = 4
MANIFESTS = ("shared-connections", "crm-sync", "billing-alerts")
TOKEN = {"WORKATO_API_TOKEN": "demo-token"}
APPLY = (sys.executable, "-m", "reconciler", "apply", "--auto-approve", "-q")
CONFIG = """\
kind: Workspace
name: partner
api:
  base_url: {url}
  auth: bearer
  token_env: WORKATO_API_TOKEN
  rate_limits: {{other: 100000, imports: 100000, import_status: 100000, dev_imports: 100000}}
  poll: {{interval: 0.005, max_interval: 0.02, timeout: 30}}
  retry: {{attempts: 2, backoff: 0.01, max_backoff: 0.05}}
---
kind: Source
workspace: partner
managed_user: E-template
---
kind: Manifest
name: shared-connections
folder_id: 110
assets:
  - {{type: connection, name: Salesforce}}
  - {{type: connection, name: Slack}}
  - {{type: lookup_table, name: Region codes}}
---
kind: Manifest
name: crm-sync
folder_id: 112
depends_on: [shared-connections]
assets:
  - {{type: recipe, name: Sync accounts}}
  - {{type: recipe, name: Sync contacts}}
---
kind: Manifest
name: billing-alerts
folder_id: 114
depends_on: [shared-connections]
auto_generate: {{}}
---
kind: Fleet
name: generic
workspace: partner
manifests: [shared-connections, crm-sync, billing-alerts]
restart_recipes: true
wave: main
customers:
{customers}
---
kind: Rollout
waves: [{waves}]
max_parallel: {max_parallel}
halt_after_failures: 3
"""


def _customers() -> list[tuple[str, int]]:
    """The generic customers `seed_demo(customers=N)` creates, with their target folders."""
    return [(f"E-cust-{i:04d}", 50_000 + i) for i in range(1, CUSTOMERS + 1)]


def _target(customer: str, folder: int) -> str:
    return f"{customer}/{folder}"


# -- one trial's draw -----------------------------------------------------------------------


SIGNALS = ("KILL", "TERM", "INT", "INT2")  # INT2: Ctrl-C twice (abort)


@dataclass(frozen=True)
class Kill:
    """When to kill: after `requests` more simulator requests, or `delay` seconds; and
    how (`signal`, one of SIGNALS)."""

    requests: int | None = None
    delay: float | None = None
    signal: str = "KILL"

    @property
    def graceful(self) -> bool:
        """TERM and INT stop an apply cleanly: every job started is recorded."""
        return self.signal != "KILL"


@dataclass(frozen=True)
class Trial:
    canary: bool
    max_parallel: int
    latency: float
    polls: int
    kills: tuple[Kill, ...]

    @classmethod
    def draw(cls, seed: int) -> Trial:
        rng = random.Random(seed)
        kills = [cls._kill(rng, first=True)]
        if rng.random() < 0.3:  # the resumed run is killed too
            kills.append(cls._kill(rng, first=False))
        return cls(
            canary=rng.random() < 0.4,
            max_parallel=rng.randint(1, 4),
            latency=rng.choice([0.0, 0.002, 0.005]),
            polls=rng.randint(1, 3),
            kills=tuple(kills),
        )

    @staticmethod
    def _kill(rng: random.Random, *, first: bool) -> Kill:
        how = rng.choices(SIGNALS, weights=(5, 2, 2, 1))[0]
        if rng.random() < 0.7:  # a clean run makes 60-80 requests; a resumed one fewer
            return Kill(requests=rng.randint(1, 70 if first else 30), signal=how)
        return Kill(delay=rng.uniform(0.2, 1.0), signal=how)  # the interpreter starts in ~0.3 s


# -- the world ------------------------------------------------------------------------------


@dataclass
class CrashWorld:
    """A config directory (written once the simulator's URL is known) beside a seeded
    simulator directory, with the trial's latency and job length."""

    root: Path
    trial: Trial
    pg_dsn: str | None = None  # the state lives in PostgreSQL when set

    def __post_init__(self) -> None:
        self.config = self.root / "config"
        self.config.mkdir(parents=True)
        self.sim = Simulator(self.root / "sim")
        self.sim.seed_demo(CUSTOMERS)
        self.sim.set_job_timing(duration=60, polls=self.trial.polls)
        self.sim.set_latency(self.trial.latency)

    @property
    def state_path(self) -> Path:
        return self.config / "rlcm.state.json"

    @property
    def env(self) -> dict[str, str]:
        return {**TOKEN, DSN_ENV: self.pg_dsn} if self.pg_dsn else dict(TOKEN)

    def backend(self) -> StateBackend:
        if self.pg_dsn is not None:  # one object: the schema check runs once
            self._pg = getattr(self, "_pg", None) or PostgresBackend(
                DSN_ENV, key="crash-trials", dsn=self.pg_dsn
            )
            return self._pg
        return FileBackend(self.state_path)

    def read_state(self) -> State | None:
        """The state as the next run reads it; a state that does not parse or validate is a
        corruption (counted in the figures)."""
        if self.pg_dsn is None:
            return _read_state(self.state_path)
        try:
            state = self.backend().read()
        except RlcmError as exc:
            record("corruptions")
            raise Corrupt(f"PostgreSQL state is corrupt: {exc}") from None
        return state if state.serial else None

    def write_config(self, url: str) -> None:
        lines = []
        for index, (customer, folder) in enumerate(_customers()):
            wave = ", wave: canary" if self.trial.canary and index == 0 else ""
            lines.append(f"  - {{customer: {customer}, folder_id: {folder}{wave}}}")
        waves = "canary, main" if self.trial.canary else "main"
        text = CONFIG.format(
            url=url, customers="\n".join(lines), waves=waves, max_parallel=self.trial.max_parallel
        )
        (self.config / "rlcm.yaml").write_text(text + (PG_STATE if self.pg_dsn else ""))

    def popen(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*APPLY, *self.settle_pending(), "-c", str(self.config)],
            cwd=self.root,
            env={**os.environ, **self.env, "NO_COLOR": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def settle_pending(self) -> list[str]:
        """Adopt or force past a manifest create a kill left unrecorded; the apply flags."""
        adopt, force = settle_pending(self.read_state(), self.live_manifests())
        for address, manifest_id in adopt:
            argv = ["adopt", address, str(manifest_id), "-q", "-c", str(self.config)]
            adopted = CliRunner(env=self.env).invoke(cli, argv)
            assert adopted.exit_code == 0, adopted.output
        return ["--allow-unrecorded-create"] if force else []

    def log_lines(self) -> int:
        try:
            return (self.sim.directory / "requests.jsonl").read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    # -- what the simulator holds ------------------------------------------------------
    def live_manifests(self) -> dict[int, str]:
        """Id -> name of every manifest in the source workspace that is not archived."""
        return self.sim.manifests("E-template")

    def job_ids(self, kind: str) -> set[int]:
        return {int(job["id"]) for job in self.sim.jobs(kind)}


@dataclass(frozen=True)
class Snapshot:
    """What the simulator held and what the state recorded when a kill landed."""

    state: State | None
    manifests: dict[int, str]
    exports: set[int]
    imports: set[int]


# -- the clean run's end state (once per process) --------------------------------------------


@dataclass(frozen=True)
class EndState:
    manifests: frozenset[str]
    package_digests: dict[str, str]
    import_digests: dict[str, str]
    folders: dict[str, list[dict[str, Any]]]


def _folder(sim: Simulator, customer: str, folder: int) -> list[dict[str, Any]]:
    """A target folder's contents without the ids the simulator assigns."""
    return [{k: v for k, v in a.items() if k != "id"} for a in sim.folder_assets(customer, folder)]


def _end_state(world: CrashWorld, state: State) -> EndState:
    return EndState(
        manifests=frozenset(state.manifests),
        package_digests={n: str(p.digest) for n, p in state.packages.items()},
        import_digests={k: r.package_digest for k, r in state.imports.items()},
        folders={_target(c, f): _folder(world.sim, c, f) for c, f in _customers()},
    )


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> EndState:
    world = CrashWorld(
        tmp_path_factory.mktemp("crash-reference"),
        Trial(canary=False, max_parallel=4, latency=0.0, polls=1, kills=()),
    )
    with running_server(world.sim.directory) as url:
        world.write_config(url)
        proc = world.popen()
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    state = StateStore(world.state_path).read()
    assert len(state.imports) == CUSTOMERS * len(MANIFESTS)
    return _end_state(world, state)


# -- killing --------------------------------------------------------------------------------


class Corrupt(AssertionError):
    pass


def _read_state(path: Path) -> State | None:
    """The state as the next run reads it; a file that does not parse or validate is a
    corruption (counted in the figures)."""
    if not path.exists():
        return None
    try:
        json.loads(path.read_bytes())
        return StateStore(path).read()
    except (ValueError, RlcmError) as exc:
        record("corruptions")
        raise Corrupt(f"state file {path} is corrupt: {exc}") from None


def _wait_and_kill(world: CrashWorld, proc: subprocess.Popen[str], kill: Kill) -> None:
    """SIGKILL at the trial's moment (or let the run finish if it ends first), reading the
    state file meanwhile: it must parse at every moment, not only at the kill."""
    start_lines, t0 = world.log_lines(), time.monotonic()
    ready: Callable[[], bool]
    if kill.requests is not None:
        target = start_lines + kill.requests
        ready = lambda: world.log_lines() >= target  # noqa: E731
    else:
        ready = lambda: time.monotonic() - t0 >= (kill.delay or 0)  # noqa: E731
    checks = 0
    while proc.poll() is None and not ready():
        assert time.monotonic() - t0 < 60, "the apply never got there"
        checks += 1
        if checks % 8 == 0:
            world.read_state()
        time.sleep(0.002)
    if proc.poll() is None:
        if kill.signal == "INT2":
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
        else:
            proc.send_signal(getattr(signal, f"SIG{kill.signal}"))
        record("crash_kills")
        record(f"crash_kills_{kill.signal.lower()}")
    _out, err = proc.communicate(timeout=30)
    if not kill.graceful:
        assert proc.returncode in (0, -signal.SIGKILL), err
    elif proc.returncode in (1, -signal.SIGINT, -signal.SIGTERM):
        # the signal landed while Python was still starting (before rlcm handles signals:
        # a KeyboardInterrupt traceback from an import, or click's "Aborted!"): nothing was
        # sent yet; or a second Ctrl-C landed while rlcm was already exiting on the first
        # ("Error: interrupted"), perhaps while it released the lock (the next run takes a
        # dead process's lock over, as after a kill)
        started = world.log_lines() != start_lines
        assert not started or "Error: interrupted" in err, (proc.returncode, err)
        if not started:
            ends = ("KeyboardInterrupt", "Aborted!", "Error: interrupted")
            assert err.rstrip().endswith(ends) or not err, err
            record("crash_kills_at_startup")
            return
        assert _lock_released(world, proc.pid)
    else:
        # a graceful stop exits 3 (the first signal, in the run) or 130 (an abort, or a
        # signal before the run); the run may also have ended first (0)
        assert proc.returncode in (0, 3, 130), err
        assert _lock_released(world, proc.pid)
    assert "Traceback" not in err, err


def _lock_released(world: CrashWorld, pid: int) -> bool:
    """No lock left, or one the next run takes over: the dead run's own (a SIGKILL, or an
    abort past the lock's release) or an earlier killed run's, when this run was signalled
    before it took that lock over (docs/state.md). A lock of a live process, or one that
    does not parse, would block the next run."""
    lock = world.state_path.with_name(world.state_path.name + ".lock")
    try:
        holder = read_lock(lock)
    except RlcmError:
        return False
    if holder is None:
        return True
    record("crash_locks_left_to_take_over")
    return holder.pid == pid or holder.holder_is_gone()


def _serving() -> bool:
    """A simulator handler thread (one per open connection) is still at work."""
    return any("process_request_thread" in t.name for t in threading.enumerate())


def _settle(world: CrashWorld) -> None:
    """Wait until the simulator has answered every request the killed run had sent: Workato
    carries out a request whose sender died, so it belongs to this kill's snapshot."""
    lines, quiet_since = world.log_lines(), time.monotonic()
    deadline = quiet_since + 30
    while _serving() or time.monotonic() - quiet_since < 0.15:
        assert time.monotonic() < deadline, "the simulator never finished its requests"
        time.sleep(0.01)
        if (now := world.log_lines()) != lines:
            lines, quiet_since = now, time.monotonic()


def _snapshot(world: CrashWorld, *, settle: bool = True) -> Snapshot:
    if settle:
        _settle(world)
    return Snapshot(
        state=world.read_state(),
        manifests=world.live_manifests(),
        exports=world.job_ids("export"),
        imports=world.job_ids("import"),
    )


# -- the window -----------------------------------------------------------------------------


@dataclass
class Orphans:
    """Per kind, what the simulator created that no state record names (the window)."""

    manifests: Counter[str] = field(default_factory=Counter)
    exports: set[int] = field(default_factory=set)
    imports: set[int] = field(default_factory=set)

    def total(self) -> int:
        return sum(self.manifests.values()) + len(self.exports) + len(self.imports)


def _unmarked(world: CrashWorld, state: State, imports: set[int]) -> list[int]:
    """Unrecorded import jobs without a pending marker for their package and target."""
    folders = {f: _target(c, f) for c, f in _customers()}
    marked = {(m.target, m.package_digest) for m in state.pending_imports.values()}
    found: list[int] = []
    for job in world.sim.jobs("import"):
        if int(job["id"]) in imports:
            target = folders[int(job["params"]["folder_id"])]
            if (target, _digest(world, int(job["id"]))) not in marked:
                found.append(int(job["id"]))
    return found


def _orphans_at_kill(
    world: CrashWorld, kill: Kill, before: Snapshot, after: Snapshot, found: Orphans
) -> None:
    """Add what the killed run created but did not record; anything that does not fit the
    window (more than can be in flight at once, a manifest without its pending marker) is
    a duplicate beyond it."""
    state = after.state or State()
    recorded_manifests = {m.id for m in state.manifests.values()}
    new_manifests = Counter(
        name
        for mid, name in after.manifests.items()
        if mid not in before.manifests and mid not in recorded_manifests
    )
    exports = after.exports - before.exports - {p.package_id for p in state.packages.values()}
    imports = after.imports - before.imports - {r.import_id for r in state.imports.values()}
    unmarked = _unmarked(world, state, imports)
    beyond = [f"import {i} unrecorded without a pending marker" for i in unmarked]
    if kill.graceful and (new_manifests or exports or imports):
        beyond.append(
            f"SIG{kill.signal} left unrecorded: {dict(new_manifests)} {exports} {imports}"
        )
    beyond += [
        f"manifest {name}: {n} unrecorded, pending markers {sorted(state.pending)}"
        for name, n in new_manifests.items()
        if name not in state.pending or n > 1
    ]
    if len(exports) > len(MANIFESTS):  # one export per manifest at a time
        beyond.append(f"exports {sorted(exports)} unrecorded")
    if len(imports) > world.trial.max_parallel:
        beyond.append(f"imports {sorted(imports)} unrecorded")
    record("duplicates", len(beyond))
    assert not beyond, beyond
    record("window_imports", len(imports))
    found.manifests.update(new_manifests)
    found.exports |= exports
    found.imports |= imports


def _duplicates_beyond(world: CrashWorld, state: State, orphans: Orphans) -> list[str]:
    """Every job or manifest beyond one per name (or per manifest and target) must be an
    orphan of a kill; anything else was created twice outside the window."""
    found: list[str] = []
    live = world.live_manifests()
    for name, n in Counter(live.values()).items():
        if n - 1 > orphans.manifests[name]:
            found.append(f"manifest {name}: {n} live, {orphans.manifests[name]} orphaned")
    names = {m.id: m.name for m in state.manifests.values()}
    exports = Counter(
        names.get(int(j["export_manifest_id"]), "?")
        for j in world.sim.jobs("export")
        if int(j["id"]) not in orphans.exports
    )
    found += [f"export {n}: {c} jobs outside the window" for n, c in exports.items() if c > 1]
    digests = {str(p.digest): n for n, p in state.packages.items()}
    folders = {f: _target(c, f) for c, f in _customers()}
    imports = Counter(
        (digests.get(_digest(world, int(j["id"])), "?"), folders[int(j["params"]["folder_id"])])
        for j in world.sim.jobs("import")
        if int(j["id"]) not in orphans.imports
    )
    found += [f"import {k}: {c} jobs outside the window" for k, c in imports.items() if c > 1]
    return found


def _digest(world: CrashWorld, job_id: int) -> str:
    blob = world.sim.package_zip(job_id) or b""
    return "sha256:" + hashlib.sha256(blob).hexdigest()


# -- the trials -----------------------------------------------------------------------------


def _run_trial(world: CrashWorld) -> Orphans:
    """Kill, snapshot, repeat; then run to completion. Returns the orphans of all kills."""
    orphans = Orphans()
    for index, kill in enumerate(world.trial.kills):
        before = _snapshot(world, settle=index > 0)
        _wait_and_kill(world, world.popen(), kill)
        after = _snapshot(world)
        _orphans_at_kill(world, kill, before, after, orphans)
    proc = world.popen()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return orphans


def _plan_is_empty(world: CrashWorld) -> bool:
    result = CliRunner(env=world.env).invoke(
        cli, ["plan", "--detailed-exitcode", "-q", "-c", str(world.config)]
    )
    return result.exit_code == 0


@pytest.fixture
def crash_world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CrashWorld]:
    params = request.node.callspec.params
    dsn = str(request.getfixturevalue("pg_dsn")) if params["backend"] == "postgres" else None
    world = CrashWorld(tmp_path, Trial.draw(params["seed"]), pg_dsn=dsn)
    with running_server(world.sim.directory) as url:
        world.write_config(url)
        yield world


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "seed"),
    [("file", seed) for seed in range(TRIALS)] + [("postgres", seed) for seed in range(PG_TRIALS)],
)
def test_a_killed_apply_converges_to_a_clean_runs_end_state(
    crash_world: CrashWorld, clean_run: EndState, backend: str, seed: int
) -> None:
    world = crash_world
    record("crash_trials")
    orphans = _run_trial(world)
    record("window_duplicates", orphans.total())

    state = world.read_state()
    assert state is not None
    beyond = _duplicates_beyond(world, state, orphans)
    record("duplicates", len(beyond))
    assert not beyond, beyond

    assert _end_state(world, state) == clean_run
    assert {p.status for p in state.packages.values()} == {"completed"}
    assert {r.status for r in state.imports.values()} == {"completed"}
    assert not state.pending
    live = world.live_manifests()
    assert all(live.get(m.id) == m.name for m in state.manifests.values())
    assert _plan_is_empty(world)

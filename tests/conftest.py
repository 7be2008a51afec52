"""Suite-wide hooks: the hardening figures, summed over pytest-xdist workers and printed last.

The hardening tests (tests/hardening/) append one JSON line per figure to the file named by
RLCM_HARDENING_FIGURES; this controller-side hook sums them. It lives here rather than in
tests/hardening/conftest.py because under xdist the controller never loads the conftest
files of subdirectories.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FIGURES_ENV = "RLCM_HARDENING_FIGURES"
# label, figure name, True when every count above zero is a failure of rlcm
_ROWS = (
    ("faults tried", "faults_tried", False),
    ("faults handled cleanly", "faults_handled", False),
    ("hostile inputs tried", "hostile_tried", False),
    ("hostile inputs handled cleanly", "hostile_handled", False),
    ("secret leak checks run", "leak_checks", False),
    ("secret leaks found", "leaks", True),
    ("crash trials", "crash_trials", False),
    ("crash kills landed", "crash_kills", False),
    ("duplicates found", "duplicates", True),
    ("duplicates inside the documented window", "window_duplicates", False),
    ("  of which imports (KILL between POST and record)", "window_imports", False),
    ("crash signals: KILL", "crash_kills_kill", False),
    ("crash signals: TERM", "crash_kills_term", False),
    ("crash signals: INT", "crash_kills_int", False),
    ("crash signals: INT twice", "crash_kills_int2", False),
    ("crash signals landed before rlcm started", "crash_kills_at_startup", False),
    ("  locks a signalled run left (taken over next)", "crash_locks_left_to_take_over", False),
    ("lost import answers (504, drop, timeout)", "lost_import_answers", False),
    ("duplicates from lost import answers", "lost_answer_duplicates", True),
    ("import window (POST to id on disk), max ms", "import_window_ms", False),
    ("unrecorded manifest creates adopted", "pending_adopted", False),
    ("unrecorded manifest creates forced", "pending_forced", False),
    ("state corruptions", "corruptions", True),
    ("byte-flipped packages inspected", "fuzz_packages", False),
    ("byte-flipped packages refused", "fuzz_refused", False),
    ("byte-flipped exports run to their end", "fuzz_runs_ended", False),
    ("byte-flipped applies ended, lock released", "fuzz_applies", False),
)

# figures that look wrong without a word of explanation, printed under them
_NOTES = {
    "crash_kills": "a crash trial kills apply once or twice, so kills can outnumber trials",
    "window_duplicates": (
        "jobs or manifests Workato made whose answer a kill or a fault lost before rlcm "
        "recorded the id: the one documented window, bounded by what was in flight; the next "
        "run settles them, and the end state still equals a clean run's"
    ),
}


@pytest.fixture(autouse=True)
def _reconciler_logger_reset() -> Iterator[None]:
    """An `rlcm` run in-process (CliRunner) points the "reconciler" logger at its stderr,
    sets its level and stops it propagating (cli/options.py); each test starts and ends
    with the logger as Python made it, so `caplog` sees the records, whatever ran before
    on the same worker (a session fixture's rlcm runs before any test's fixtures)."""

    def reset() -> None:
        logger = logging.getLogger("reconciler")
        logger.handlers[:] = []
        logger.setLevel(logging.NOTSET)
        logger.propagate = True

    reset()
    yield
    reset()


def pytest_configure(config: pytest.Config) -> None:
    # every state write that names its changed records is compared with the reference
    # encoding (state/encode.py), in this process and in every rlcm the tests start
    os.environ["RLCM_STATE_SELFCHECK"] = "1"
    if hasattr(config, "workerinput") or os.environ.get(FIGURES_ENV):
        return  # an xdist worker: the controller already chose the file (inherited env)
    fd, name = tempfile.mkstemp(prefix="rlcm-hardening-", suffix=".jsonl")
    os.close(fd)
    os.environ[FIGURES_ENV] = name
    config.stash[_FILE] = Path(name)


_FILE = pytest.StashKey[Path]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    path = terminalreporter.config.stash.get(_FILE, None)
    if path is None or not path.exists():
        return
    totals: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            totals[entry["figure"]] += int(entry["n"])
    path.unlink()
    os.environ.pop(FIGURES_ENV, None)
    if not totals:
        return
    terminalreporter.section("rlcm hardening figures")
    for label, key, bad in _ROWS:
        mark = "  <-- should be 0" if bad and totals[key] else ""
        terminalreporter.write_line(f"{label:<42} {totals[key]:>6}{mark}")
        if key in _NOTES and totals[key]:
            terminalreporter.write_line(f"  ({_NOTES[key]})")


# -- a real PostgreSQL server for the state backend's tests -----------------------------------
#
# Started once per test process (each xdist worker has its own) with the machine's own
# binaries (Debian puts them in /usr/lib/postgresql/*/bin), in a temporary directory, on
# 127.0.0.1 and a free port, with password authentication so that the secret-scan tests
# have a password to look for. initdb refuses to run as root, so as root the cluster is
# created and run as the unprivileged `nobody` (subprocess's user= and group=).
# Where no server binary exists, the tests that need it are skipped with the reason.

PG_PASSWORD = "cnry-pgpw-7c41e0d2b9"
PG_USER = "rlcm"


def _pg_bindir() -> Path | None:
    import glob
    import shutil

    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    for directory in reversed(dirs):
        if (Path(directory) / "initdb").exists():
            return Path(directory)
    return None


class _PgCluster:
    def __init__(self, bindir: Path) -> None:
        import pwd
        import shutil
        import socket

        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="rlcm-pg-"))
        self.data = self.root / "data"
        self.user: int | None = None
        self.group: int | None = None
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self.user, self.group = nobody.pw_uid, nobody.pw_gid
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        pwfile = self.root / "pw"
        pwfile.write_text(PG_PASSWORD + "\n")
        if self.user is not None:
            os.chown(pwfile, self.user, self.group or 0)
        self._run("initdb", "-D", str(self.data), "-U", PG_USER, "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync")  # fmt: skip
        pwfile.unlink()
        self.shutil = shutil
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        import subprocess

        done = subprocess.run(
            [str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            user=self.user,
            group=self.group,
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"},
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        self.start()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            self.shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, dbname: str = "postgres") -> str:
        return (
            f"host=127.0.0.1 port={self.port} user={PG_USER} password={PG_PASSWORD} dbname={dbname}"
        )


@pytest.fixture(scope="session")
def _pg_cluster() -> Any:
    import pwd

    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root without a `nobody` user to run initdb as")
    cluster = _PgCluster(bindir)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_dsn(_pg_cluster: Any, request: pytest.FixtureRequest) -> str:
    """The DSN (password included) of a new, empty database on the test server."""
    import psycopg

    name = "t_" + os.urandom(6).hex()
    with psycopg.connect(_pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return str(_pg_cluster.dsn(name))


@pytest.fixture
def pg_restart(_pg_cluster: Any) -> Callable[[], None]:
    """Restart the test server (every open session ends, as in a failover)."""
    return _pg_cluster.restart  # type: ignore[no-any-return]

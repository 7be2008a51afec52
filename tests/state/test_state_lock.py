"""The state lock: one holder, named when refused; dead holders never block a re-run."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.errors import LockError, StateError
from reconciler.state.lock import read_lock
from reconciler.state.store import StateStore

HOLDER = """
import sys
from pathlib import Path
from reconciler.state.store import StateStore

with StateStore(Path(sys.argv[1])).lock("apply"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _write_lock(store: StateStore, **fields: object) -> None:
    data: dict[str, object] = {
        "holder": "alice@ci-7",
        "pid": 4242,
        "host": "ci-7",
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "apply",
        "ttl": 7200,
    }
    data.update(fields)
    store.lock_path.write_text(json.dumps(data))


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_lock_file_names_the_holder_and_is_removed_on_release(state_path: Path) -> None:
    store = StateStore(state_path)
    with store.lock("state rm") as held:
        info = read_lock(store.lock_path)
        assert info == held.info
        assert info.pid == os.getpid()
        assert info.host == socket.gethostname()
        assert info.holder.endswith("@" + socket.gethostname())
        assert info.command == "state rm"
        assert held.warning is None
    assert not store.lock_path.exists()


def test_second_taker_is_refused_with_the_holder_named(state_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockError) as caught, StateStore(state_path).lock("apply"):
            pass
        message = str(caught.value)
        assert message.startswith("state is locked by ")
        assert f"(pid {holder.pid}, apply, since " in message
        assert "stale" not in message
        assert message.endswith(
            "still running; wait for it to finish and run this again "
            "(a CI job queue or concurrency group avoids the overlap)"
        )
    finally:
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
    with StateStore(state_path).lock("apply") as held:  # released when the holder ended
        assert held.warning is None


def test_dead_holder_on_this_host_is_taken_over_with_a_warning(state_path: Path) -> None:
    store = StateStore(state_path)
    pid = _dead_pid()
    _write_lock(store, pid=pid, host=socket.gethostname(), holder="bob@here")
    with store.lock("apply") as held:
        assert held.warning is not None
        assert f"bob@here (pid {pid}, apply, since " in held.warning
        assert "gone" in held.warning
        assert read_lock(store.lock_path) == held.info
    assert not store.lock_path.exists()


def test_lock_from_another_host_is_refused_with_the_unlock_hint(state_path: Path) -> None:
    store = StateStore(state_path)
    _write_lock(store, started_at="2026-11-23T10:01:02Z", ttl=10**9)
    with pytest.raises(LockError) as caught, store.lock("apply"):
        pass
    assert str(caught.value) == (
        "state is locked by alice@ci-7 (pid 4242, apply, since 2026-11-23T10:01:02Z) "
        "on another host (ci-7); run `rlcm state unlock --force` if it is no longer running"
    )
    assert store.lock_path.exists()


def test_expired_lock_is_refused_as_stale_even_on_this_host(state_path: Path) -> None:
    store = StateStore(state_path)
    old = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write_lock(store, pid=os.getppid(), host=socket.gethostname(), started_at=old)
    stale = r"stale lock .* older than its TTL of 7200s.*--force"
    with pytest.raises(LockError, match=stale), store.lock("apply"):
        pass


def test_release_leaves_a_lock_that_is_no_longer_ours(state_path: Path) -> None:
    store = StateStore(state_path)
    with store.lock("apply"):
        _write_lock(store)  # broken with --force and taken by someone else meanwhile
    assert read_lock(store.lock_path) is not None


def test_bad_lock_ttl_setting_is_a_clear_error(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLCM_LOCK_TTL", "soon")
    with pytest.raises(StateError, match="RLCM_LOCK_TTL"), StateStore(state_path).lock("x"):
        pass
    monkeypatch.setenv("RLCM_LOCK_TTL", "60")
    with StateStore(state_path).lock("apply") as held:
        assert held.info.ttl == 60


SPINNER = """
import sys
from pathlib import Path
from reconciler.state.store import StateStore

store = StateStore(Path(sys.argv[1]))
print("ready", flush=True)
try:
    while True:
        with store.lock("apply"):
            pass
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_a_ctrl_c_at_any_moment_of_taking_or_releasing_the_lock_leaves_none(
    state_path: Path,
) -> None:
    """A process that does nothing but take and release the lock, interrupted at random
    moments: the KeyboardInterrupt lands inside the body (the lock is released on the way
    out) or outside (there is none), never between creating the file and owning it."""
    rng = random.Random(7)
    for trial in range(12):
        spinner = subprocess.Popen(
            [sys.executable, "-c", SPINNER, str(state_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert spinner.stdout is not None and spinner.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.001, 0.03))
        spinner.send_signal(signal.SIGINT)
        _out, err = spinner.communicate(timeout=30)
        assert spinner.returncode == 130, err
        assert not state_path.with_name(state_path.name + ".lock").exists(), f"trial {trial}"

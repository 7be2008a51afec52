"""The state lock under real contention, kills and foreign holders; a state that cannot be
written (full disk, read-only directory) leaves the previous state intact."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hardening_world import World, check_result, record

from reconciler.simulator.serve import running_server


def _lock_path(world: World) -> Path:
    return world.state_path.with_name(world.state_path.name + ".lock")


def _start_slow_apply(world: World, latency: float = 0.4) -> subprocess.Popen[str]:
    """An apply in a subprocess, slowed by simulator latency, once it holds the lock."""
    world.sim.set_latency(latency)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "-c", str(world.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **world.env},
    )
    deadline = time.monotonic() + 30
    while not _lock_path(world).exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the apply never took the lock"
        time.sleep(0.02)
    return proc


def _write_lock(world: World, *, host: str, pid: int, age_s: float = 0, ttl: int = 7200) -> None:
    started = (datetime.now(UTC) - timedelta(seconds=age_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    info = {
        "holder": f"ci@{host}",
        "pid": pid,
        "host": host,
        "started_at": started,
        "command": "apply",
        "ttl": ttl,
    }
    _lock_path(world).write_text(json.dumps(info))


def test_a_second_apply_refuses_naming_the_holder(world: World) -> None:
    first = _start_slow_apply(world)
    try:
        second = world.run("apply", "--auto-approve")
        check_result(world, second)
        assert second.exit_code == 1
        (line,) = second.stderr.strip().splitlines()
        assert line.startswith("Error: state is locked by ")
        assert f"pid {first.pid}" in line and "apply" in line
    finally:
        _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert not _lock_path(world).exists()
    world.state()


def test_a_killed_apply_leaves_a_lock_the_next_run_takes_over(world: World) -> None:
    proc = _start_slow_apply(world, latency=0.3)
    # kill once the manifests are recorded: a kill during a create would leave a pending
    # marker, and the rerun would (rightly) refuse to create that manifest again
    deadline = time.monotonic() + 30
    while not world.state_path.exists() or len(world.state().manifests) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "no manifests recorded"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert _lock_path(world).exists()
    world.sim.set_latency(0)
    world.state()  # parses after the kill
    result = world.run("apply", "--auto-approve")
    check_result(world, result)
    assert result.exit_code == 0, result.output
    assert "took over the state lock of " in result.stderr
    assert f"pid {proc.pid}" in result.stderr
    assert not _lock_path(world).exists()
    assert world.state().imports["crm-sync@acme"].status == "completed"


def test_a_lock_from_another_host_is_refused_with_the_unlock_hint(world: World) -> None:
    _write_lock(world, host="build-7.ci.example", pid=4242)
    result = world.run("apply", "--auto-approve")
    check_result(world, result)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "on another host (build-7.ci.example)" in line
    assert "rlcm state unlock --force" in line
    assert not world.state_path.exists()  # nothing was done
    unlock = world.run("state", "unlock", "--force")
    assert unlock.exit_code == 0, unlock.output
    assert world.run("apply", "--auto-approve").exit_code == 0


def test_an_expired_lock_is_reported_stale(world: World) -> None:
    # a live process on this host (this one), but far older than the lock's TTL
    _write_lock(world, host=socket.gethostname(), pid=os.getpid(), age_s=3 * 3600)
    result = world.run("apply", "--auto-approve")
    check_result(world, result)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "stale lock" in line and "older than its TTL of 7200s" in line
    assert "rlcm state unlock --force" in line


def _http_world(world: World, url: str) -> None:
    text = (world.config / "workspace.yaml").read_text()
    (world.config / "workspace.yaml").write_text(text.replace("sim://sim", url))


def test_a_full_disk_leaves_the_previous_state_intact(world: World) -> None:
    """RLIMIT_FSIZE makes every write past N bytes fail with EFBIG, as a full disk would
    (it also works as root, unlike a read-only directory). The simulator runs over HTTP in
    this process, so only rlcm's own writes are limited."""
    record("faults_tried")
    with running_server(world.config / "sim") as url:
        _http_world(world, url)
        first = world.run("apply", "--auto-approve")
        assert first.exit_code == 0, first.output
        before = world.state_path.read_bytes()
        world.sim.bump_recipe_version("E-template", "Sync accounts")
        limit = 1024  # the lock file fits, the state does not

        def small_disk() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler",
                "apply",
                "--auto-approve",
                "-c",
                str(world.config),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **world.env},
            preexec_fn=small_disk,
            timeout=60,
        )
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    errors = [ln for ln in done.stderr.splitlines() if "cannot write state file" in ln]
    assert errors and all("File too large" in ln for ln in errors), done.stderr
    assert world.state_path.read_bytes() == before  # the previous state, byte for byte
    world.state()
    assert not _lock_path(world).exists()
    record("faults_handled")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_state_directory_is_a_clear_error(world: World) -> None:
    first = world.run("apply", "--auto-approve")
    assert first.exit_code == 0, first.output
    before = world.state_path.read_bytes()
    world.sim.bump_recipe_version("E-template", "Sync accounts")
    state_dir = world.root / "ro"
    state_dir.mkdir()
    (state_dir / "rlcm.state.json").write_bytes(before)
    state_dir.chmod(0o555)
    try:
        result = world.run("apply", "--auto-approve", "--state", str(state_dir / "rlcm.state.json"))
    finally:
        state_dir.chmod(0o755)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "lock file" in line or "state file" in line
    assert (state_dir / "rlcm.state.json").read_bytes() == before


def _writable(directory: Path) -> bool:
    probe = directory / f".rlcm-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


@pytest.mark.skipif(
    not Path("/sys").is_dir() or _writable(Path("/sys")), reason="needs a read-only /sys"
)
def test_a_state_path_in_a_read_only_directory_is_a_clear_error(world: World) -> None:
    """/sys refuses new files even to root: the run stops before any API call."""
    result = world.run("apply", "--auto-approve", "--state", "/sys/rlcm.state.json")
    check_result(world, result)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: cannot create lock file /sys/rlcm.state.json.lock: ")
    assert world.sim.request_log() == []

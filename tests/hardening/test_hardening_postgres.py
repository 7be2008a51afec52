"""The PostgreSQL state backend under real contention, kills and a server restart, through
the real command line (the DSN's password: test_hardening_secrets.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

from hardening_world import World, check_result, record


def _start_slow_apply(world: World, latency: float = 0.3) -> subprocess.Popen[str]:
    """An apply in a subprocess, slowed by simulator latency, once it holds the lock."""
    world.sim.set_latency(latency)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "-c", str(world.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **world.env, "NO_COLOR": "1"},
    )
    _wait(world, proc, lambda: world.backend().holder() is not None, "the apply never locked")
    return proc


def _wait(world: World, proc: subprocess.Popen[str], ready: Callable[[], bool], why: str) -> None:
    deadline = time.monotonic() + 30
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, why
        time.sleep(0.02)


def _no_duplicates(world: World) -> None:
    """One live manifest per name, one import job per manifest and target."""
    live = Counter(world.sim.manifests("E-template").values())
    assert all(n == 1 for n in live.values()), live
    state = world.state()
    digests = Counter(str(p.digest) for p in state.packages.values())
    assert all(n == 1 for n in digests.values())
    imports = Counter(int(j["params"]["folder_id"]) for j in world.sim.jobs("import"))
    assert imports == {1827: 2}, imports
    record("leak_checks", 0)


def test_concurrent_applies_one_fails_fast_naming_the_holder_one_waits(pg_world: World) -> None:
    world = pg_world
    first = _start_slow_apply(world)
    try:
        listed = world.run("state", "list")
        assert listed.exit_code == 0, listed.output
        assert "Locked by " in listed.stderr and f"pid {first.pid}" in listed.stderr
        second = world.run("apply", "--auto-approve")
        check_result(world, second)
        assert second.exit_code == 1
        (line,) = second.stderr.strip().splitlines()
        assert line.startswith("Error: state is locked by ")
        assert f"pid {first.pid}" in line and "apply" in line and "PostgreSQL state" in line
        refused = world.run("state", "unlock")
        assert refused.exit_code == 1 and "may still be running" in refused.stderr
        # the same config with a lock_timeout waits for the first apply, then finds nothing
        with (world.config / "state.yaml").open("a") as handle:
            handle.write("lock_timeout: 60\n")
        waiter = world.run("apply", "--auto-approve")
        check_result(world, waiter)
        assert waiter.exit_code == 0, waiter.output
        assert "No changes" in waiter.stdout
    finally:
        _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert first.poll() is not None
    assert world.backend().holder() is None
    _no_duplicates(world)


def test_a_killed_apply_frees_the_lock_and_the_next_run_resumes(pg_world: World) -> None:
    world = pg_world
    proc = _start_slow_apply(world)
    # once the manifests are recorded: a kill during a create leaves a pending marker, and the
    # rerun would (rightly) refuse to create that manifest again without adopt or --force
    _wait(world, proc, lambda: len(world.state().manifests) >= 3, "no manifests recorded")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    recorded = world.state()
    deadline = time.monotonic() + 10
    while world.backend().holder() is not None:  # the session ended with the process
        assert time.monotonic() < deadline, "the killed apply's lock outlived it"
        time.sleep(0.05)
    world.sim.set_latency(0)
    result = world.run("apply", "--auto-approve")
    check_result(world, result)
    assert result.exit_code == 0, result.output
    assert "took over the state lock of " in result.stderr and f"pid {proc.pid}" in result.stderr
    after = world.state()
    assert after.lineage == recorded.lineage and after.serial > recorded.serial
    assert set(recorded.manifests) <= set(after.manifests)
    assert after.imports["crm-sync@acme"].status == "completed"
    _no_duplicates(world)


def test_a_server_restart_mid_apply_is_a_clear_error_and_loses_nothing(
    pg_world: World, pg_restart: Callable[[], None]
) -> None:
    world = pg_world
    proc = _start_slow_apply(world, latency=0.4)
    # after the manifests (a restart during a create leaves a pending marker: adopt's case)
    _wait(world, proc, lambda: len(world.state().manifests) >= 3, "no manifests recorded")
    pg_restart()
    _out, err = proc.communicate(timeout=60)
    # the steps whose record could not be written fail (as with a full disk): exit 1 or 3
    assert proc.returncode in (1, 3), err
    assert "Traceback" not in err
    assert "lost the connection to PostgreSQL" in err and "Run the command again" in err
    kept = world.state()
    assert kept.manifests and not kept.pending
    world.sim.set_latency(0)
    result = world.run("apply", "--auto-approve")
    check_result(world, result)
    assert result.exit_code == 0, result.output
    after = world.state()
    assert after.lineage == kept.lineage and after.serial > kept.serial
    assert all(after.manifests[n].id == m.id for n, m in kept.manifests.items())
    _no_duplicates(world)

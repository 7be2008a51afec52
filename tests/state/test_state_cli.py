"""`rlcm state list|show|rm|unlock` as a user runs them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.state.lock import read_lock
from reconciler.state.model import State
from reconciler.state.store import StateStore


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["state", *args])


def _saved(path: Path, state: State) -> State:
    StateStore(path).write(state)
    return state


def test_list_prints_every_address_sorted(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    _saved(state_path, state_factory(imports=2))
    result = _run("list", "--state", str(state_path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "baseline.E-cust-0000/50001",
        "baseline.E-cust-0001/50002",
        "export.crm-sync",
        "import.crm-sync@E-cust-0000/50001",
        "import.crm-sync@E-cust-0001/50002",
        "manifest.crm-sync",
        "pending.billing-alerts",
    ]


def test_default_state_file_is_beside_the_config(
    tmp_path: Path, state_factory: Callable[..., State]
) -> None:
    _saved(tmp_path / "rlcm.state.json", state_factory(imports=0))
    result = _run("list", "-c", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "manifest.crm-sync" in result.stdout.splitlines()


def test_show_prints_the_record_as_json(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    state = _saved(state_path, state_factory())
    result = _run("show", "manifest.crm-sync", "--state", str(state_path))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == state.manifests["crm-sync"].model_dump(mode="json")


def test_show_unknown_address_suggests_close_matches(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    _saved(state_path, state_factory())
    result = _run("show", "manifest.crm-snyc", "--state", str(state_path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: no 'manifest.crm-snyc' in ")
    assert "did you mean manifest.crm-sync" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_corrupt_state_is_one_error_line(state_path: Path) -> None:
    state_path.write_text("{oops")
    result = _run("list", "--state", str(state_path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: state file {state_path} is refused")
    assert "Traceback" not in result.stderr
    assert state_path.read_text() == "{oops"


def test_rm_forgets_records_and_says_workato_is_untouched(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    _saved(state_path, state_factory(imports=1))
    result = _run("rm", "manifest.crm-sync", "pending.billing-alerts", "--state", str(state_path))
    assert result.exit_code == 0, result.stderr
    assert "Removed manifest.crm-sync" in result.stdout
    assert "(id 501) still exists in Workato" in result.stdout
    assert "Removed pending.billing-alerts" in result.stdout
    after = StateStore(state_path).read()
    assert "manifest.crm-sync" not in after.addresses()
    assert "pending.billing-alerts" not in after.addresses()
    assert after.serial == 2
    assert not StateStore(state_path).lock_path.exists()


def test_rm_with_one_unknown_address_removes_nothing(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    before = _saved(state_path, state_factory())
    result = _run("rm", "export.crm-sync", "export.nope", "--state", str(state_path))
    assert result.exit_code == 1
    assert "export.nope" in result.stderr
    assert StateStore(state_path).read() == before


def test_rm_is_refused_while_locked(state_path: Path, state_factory: Callable[..., State]) -> None:
    _saved(state_path, state_factory())
    store = StateStore(state_path)
    with store.lock("apply"):
        result = _run("rm", "export.crm-sync", "--state", str(state_path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: state is locked by ")
    assert "export.crm-sync" in StateStore(state_path).read().addresses()


def _foreign_lock(store: StateStore) -> None:
    store.lock_path.write_text(
        json.dumps(
            {
                "holder": "alice@ci-7",
                "pid": 4242,
                "host": "ci-7",
                "started_at": "2020-01-02T03:04:05Z",
                "command": "apply",
                "ttl": 7200,
            }
        )
    )


def test_unlock_without_force_refuses_a_foreign_lock_and_force_clears_it(
    state_path: Path,
) -> None:
    store = StateStore(state_path)
    _foreign_lock(store)
    refused = _run("unlock", "--state", str(state_path))
    assert refused.exit_code == 1
    assert "alice@ci-7 (pid 4242, apply, since 2020-01-02T03:04:05Z)" in refused.stderr
    assert "--force" in refused.stderr
    assert store.lock_path.exists()
    forced = _run("unlock", "--force", "--state", str(state_path))
    assert forced.exit_code == 0, forced.stderr
    assert (
        forced.stdout == "Removed the lock held by alice@ci-7 (pid 4242, apply, since "
        "2020-01-02T03:04:05Z).\n"
    )
    assert not store.lock_path.exists()
    with store.lock("apply"):
        pass


def test_stale_lock_blocks_rm_until_unlock_force(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    _saved(state_path, state_factory())
    store = StateStore(state_path)
    _foreign_lock(store)  # started long ago: older than its TTL
    blocked = _run("rm", "export.crm-sync", "--state", str(state_path))
    assert blocked.exit_code == 1
    assert "stale" in blocked.stderr
    assert _run("unlock", "--force", "--state", str(state_path)).exit_code == 0
    assert _run("rm", "export.crm-sync", "--state", str(state_path)).exit_code == 0


def test_unlock_removes_a_dead_holders_lock_without_force(state_path: Path) -> None:
    store = StateStore(state_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.lock("apply") as held:
        pass
    data = {**held.info.__dict__, "pid": dead.pid, "host": socket.gethostname()}
    store.lock_path.write_text(json.dumps(data))
    result = _run("unlock", "--state", str(state_path))
    assert result.exit_code == 0, result.stderr
    assert "process is gone" in result.stdout
    assert read_lock(store.lock_path) is None


def test_rm_takes_over_a_dead_holders_lock_with_a_warning(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    _saved(state_path, state_factory())
    store = StateStore(state_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.lock("apply") as held:
        pass
    store.lock_path.write_text(json.dumps({**held.info.__dict__, "pid": dead.pid}))
    result = _run("rm", "export.crm-sync", "--state", str(state_path))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("Warning: took over the state lock of ")
    assert "Removed export.crm-sync" in result.stdout


def test_unlock_when_not_locked(state_path: Path) -> None:
    result = _run("unlock", "--state", str(state_path))
    assert result.exit_code == 0
    assert result.stdout == "State is not locked.\n"

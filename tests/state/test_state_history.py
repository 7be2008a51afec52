"""The file backend's history: the last serials in .rlcm/history/, as hard links."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.errors import StateError
from reconciler.state.backends import FileBackend
from reconciler.state.model import State


def test_each_write_keeps_its_serial_up_to_the_retention(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    backend = FileBackend(state_path, keep=3)
    state = state_factory(imports=2)
    with backend.lock("apply"):
        for i in range(5):
            state.imports.pop(f"crm-sync@E-cust-{i:04d}/{50001 + i}", None)
            backend.write(state)
            if i == 1:
                assert backend.history()[-1].summary == "import.crm-sync@E-cust-0001/50002 removed"
    entries = backend.history()
    assert [e.serial for e in entries] == [3, 4, 5]
    assert {e.command for e in entries} == {"apply"}
    assert [e.summary for e in entries] == ["no record changed"] * 3
    kept = sorted(p.name for p in backend.history_dir.glob("*.json"))
    assert kept == ["0000000003.json", "0000000004.json", "0000000005.json"]
    # the newest is the state file itself (a hard link: no copy per write)
    assert (backend.history_dir / "0000000005.json").stat().st_ino == state_path.stat().st_ino
    assert backend.read_serial(4).serial == 4
    assert len(backend.read_serial(3).imports) == 0
    assert len(backend.read_serial(5).imports) == 0
    with pytest.raises(StateError, match=r"has no serial 2; kept serials: 3\.\.5"):
        backend.read_serial(2)


def test_a_summary_names_what_changed(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    backend = FileBackend(state_path)
    state = state_factory(imports=5)
    backend.write(state)
    first = backend.history()[-1]
    assert "export.crm-sync completed" in first.summary and "+5 more" in first.summary
    backend.write(state)
    assert backend.history()[-1].summary == "no record changed"


def test_history_zero_keeps_none(state_path: Path, state_factory: Callable[..., State]) -> None:
    backend = FileBackend(state_path, keep=0)
    backend.write(state_factory())
    assert backend.history() == []
    assert not (state_path.parent / ".rlcm").exists()


def test_state_history_and_show_serial_on_the_command_line(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    backend = FileBackend(state_path)
    state = state_factory(imports=1)
    with backend.lock("apply"):
        backend.write(state)
        del state.manifests["crm-sync"]
        backend.write(state)
    runner = CliRunner()
    listed = runner.invoke(cli, ["state", "history", "--state", str(state_path)])
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["SERIAL", "WRITTEN", "COMMAND", "SUMMARY"]
    assert [r.split()[0] for r in rows] == ["1", "2"]
    assert rows[1].split()[2:] == ["apply", "manifest.crm-sync", "removed"]
    as_json = runner.invoke(
        cli, ["state", "history", "--format", "json", "--state", str(state_path)]
    )
    assert [e["serial"] for e in json.loads(as_json.stdout)] == [1, 2]
    old = runner.invoke(
        cli, ["state", "show", "manifest.crm-sync", "--serial", "1", "--state", str(state_path)]
    )
    assert old.exit_code == 0, old.output
    assert json.loads(old.stdout)["id"] == 501
    now = runner.invoke(cli, ["state", "show", "manifest.crm-sync", "--state", str(state_path)])
    assert now.exit_code == 1 and "no 'manifest.crm-sync' in" in now.stderr
    whole = runner.invoke(cli, ["state", "show", "--serial", "2", "--state", str(state_path)])
    assert json.loads(whole.stdout)["serial"] == 2
    missing = runner.invoke(cli, ["state", "show", "--serial", "9", "--state", str(state_path)])
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        f"Error: state file {state_path} has no serial 9; kept serials: 1..2 (1, 2)"
    )

"""The state file: read, refused when untrustworthy, written atomically and diffably."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.state.backends.file import FileBackend
from reconciler.state.encode import StateEncoder, encode_state
from reconciler.state.model import RecipeResult, ResolvedTarget, State
from reconciler.state.store import StateStore


def test_missing_file_reads_as_a_fresh_empty_state(state_path: Path) -> None:
    state = StateStore(state_path).read()
    assert state.serial == 0
    assert state.addresses() == []
    assert not state_path.exists()


def test_write_then_read_round_trips_and_increments_serial(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    store = StateStore(state_path)
    state = state_factory()
    store.write(state)
    store.write(state)
    assert state.serial == 2
    again = StateStore(state_path).read()
    assert again == state


def test_file_is_sorted_indented_json_with_a_trailing_newline(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    state = state_factory()
    StateStore(state_path).write(state)
    text = state_path.read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_cached_encoding_follows_every_kind_of_change(state_factory: Callable[..., State]) -> None:
    state = state_factory(imports=5)
    encoder = StateEncoder()
    assert encoder.encode(state) == encode_state(state)
    key = sorted(state.imports)[0]
    record = state.imports[key]
    record.status = "failed"
    assert encoder.encode(state) == encode_state(state)
    record.recipe_results.append(RecipeResult(id=99, import_result="stop_failed"))
    assert encoder.encode(state) == encode_state(state)
    state.imports[key] = record.model_copy(update={"error": "boom"})
    assert encoder.encode(state) == encode_state(state)
    del state.imports[key]
    state.manifests.clear()
    assert encoder.encode(state) == encode_state(state)


def test_a_write_naming_its_changed_records_gives_the_file_a_full_scan_gives(
    state_factory: Callable[..., State],
) -> None:
    # the applier names the records it put or removed (state/encode.py): a fleet's state
    # is not scanned at every write, and the file must come out the same all the same
    state = state_factory(imports=5)
    encoder = StateEncoder()
    assert encoder.encode(state, {}) == encode_state(state)  # the first call scans anyway
    keys = sorted(state.imports)
    state.imports[keys[2]] = state.imports[keys[2]].model_copy(update={"status": "failed"})
    assert encoder.encode(state, {"imports": {keys[2]}}) == encode_state(state)
    new_key = keys[0] + "0"  # sorts between the first and the second
    state.imports[new_key] = state.imports[keys[0]].model_copy(update={"target": "x"})
    del state.imports[keys[4]]
    changes = {"imports": {new_key, keys[4]}, "waves": {"gone-already"}}
    assert encoder.encode(state, changes) == encode_state(state)
    state.targets["t"] = ResolvedTarget(workspace="partner", customer="E-x", folder_id=3)
    assert encoder.encode(state, {"targets": {"t"}}) == encode_state(state)
    del state.targets["t"]  # an optional section that empties drops out of the file
    assert encoder.encode(state, {"targets": {"t"}}) == encode_state(state)


def test_a_record_put_without_being_named_is_still_written(
    state_factory: Callable[..., State],
) -> None:
    state = state_factory(imports=3)
    encoder = StateEncoder()
    encoder.encode(state)
    key = sorted(state.imports)[0]
    state.imports[key + "-twin"] = state.imports[key].model_copy(update={"import_id": 77})
    text = encoder.encode(state, {}).decode()  # named nothing: its section is scanned
    assert '"import_id": 77' in text
    assert text == encode_state(state).decode()


def test_the_history_says_the_same_whether_a_write_names_its_changes_or_not(
    tmp_path: Path, state_factory: Callable[..., State]
) -> None:
    def history(named: bool) -> list[str]:
        (tmp_path / f"{named}").mkdir()
        backend = FileBackend(tmp_path / f"{named}" / "rlcm.state.json")
        state = backend.read()
        backend.write(state)
        fresh = state_factory(imports=4)
        keys = sorted(fresh.imports)
        state.imports[keys[0]] = fresh.imports[keys[0]]
        backend.write(state, {"imports": {keys[0]}} if named else None)
        for key in keys[1:]:
            state.imports[key] = fresh.imports[key]
        state.pending["crm-sync"] = fresh.pending["billing-alerts"]
        backend.write(state, {"imports": set(keys[1:]), "pending": {"crm-sync"}} if named else None)
        del state.imports[keys[0]]
        backend.write(state, {"imports": {keys[0]}} if named else None)
        return [entry.summary for entry in backend.history()]

    named = history(True)
    assert named == history(False)
    assert named[-1] == f"import.{sorted(state_factory(imports=4).imports)[0]} removed"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"serial": 1}', "no format_version"),
        ('{"format_version": 99, "serial": 1, "lineage": "x"}', "unknown format_version 99"),
        ('{"format_version": 1, "serial": "many"}', "serial"),
        ('{"format_version": 1, "manifests": {"a": {"name": "a"}}}', "manifests.a"),
    ],
)
def test_untrustworthy_file_is_refused_and_never_overwritten(
    state_path: Path, content: str, reason: str
) -> None:
    state_path.write_text(content)
    store = StateStore(state_path)
    with pytest.raises(StateError) as caught:
        store.read()
    message = str(caught.value)
    assert str(state_path) in message
    assert reason in message
    assert "\n" not in message
    with pytest.raises(StateError):
        store.write(State())
    assert state_path.read_text() == content


def test_write_refused_when_someone_else_wrote_since_read(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    StateStore(state_path).write(state_factory())
    mine = StateStore(state_path).read()
    theirs_store = StateStore(state_path)
    theirs = theirs_store.read()
    theirs_store.write(theirs)
    with pytest.raises(StateError, match="written by someone else"):
        StateStore(state_path).write(mine)
    assert StateStore(state_path).read().serial == theirs.serial


def test_write_refused_over_another_history(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    StateStore(state_path).write(state_factory())
    before = state_path.read_bytes()
    with pytest.raises(StateError, match="another history"):
        StateStore(state_path).write(State())
    assert state_path.read_bytes() == before


@contextlib.contextmanager
def _read_only(directory: Path) -> Iterator[None]:
    """Make `directory` unwritable; as root that takes the immutable attribute."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    done = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("cannot make a directory read-only as root here (no chattr)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


def test_read_only_directory_gives_a_clear_error_and_keeps_the_old_file(
    tmp_path: Path, state_factory: Callable[..., State]
) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    path = directory / "rlcm.state.json"
    store = StateStore(path)
    state = state_factory()
    store.write(state)
    before = path.read_bytes()
    with _read_only(directory):
        with pytest.raises(StateError) as caught:
            store.write(state)
        assert str(path) in str(caught.value)
        assert "not permitted" in str(caught.value) or "denied" in str(caught.value)
    assert state.serial == 1
    assert path.read_bytes() == before
    assert sorted(p.name for p in directory.iterdir()) == ["rlcm.state.json"]
    store.write(state)  # the same store and state carry on once the directory is writable
    assert StateStore(path).read().serial == 2

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
from reconciler.state.encode import StateEncoder, encode_state
from reconciler.state.model import RecipeResult, State
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

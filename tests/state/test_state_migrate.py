"""Format 1 state files (a folder copy in every import record) read as format 2 (one
baseline per target), and written back in format 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import StateError
from reconciler.state.migrate import MIGRATIONS, migrate
from reconciler.state.model import FORMAT_VERSION, State
from reconciler.state.store import StateStore


def as_v1(state: State) -> dict[str, Any]:
    """A format 1 file of `state`: each import carries its target's folder; no baselines."""
    data = state.model_dump(mode="json")
    baselines = data.pop("baselines")
    for record in data["imports"].values():
        baseline = baselines.get(record["target"])
        folder = None
        if baseline is not None and record["manifest"] in baseline["imports"]:
            folder = [
                {"type": "recipe", "name": r["name"], "version": r["version"], "id": r["id"],
                 "folder": ""}
                for r in baseline["recipes"]
            ] + baseline["assets"]  # fmt: skip
        record["folder_after"] = folder
    data["format_version"] = 1
    return data


def test_a_v1_file_reads_as_one_baseline_per_target(
    state_path: Path, state_factory: Callable[..., State]
) -> None:
    original = state_factory(imports=3)
    state_path.write_text(json.dumps(as_v1(original)), encoding="utf-8")
    store = StateStore(state_path)
    state = store.read()
    assert state.format_version == FORMAT_VERSION == 2
    assert set(state.baselines) == set(original.baselines)
    for target, baseline in state.baselines.items():
        before = original.baselines[target]
        assert baseline.imports == before.imports
        assert [(r.id, r.name, r.version) for r in baseline.recipes] == [
            (r.id, r.name, r.version) for r in before.recipes
        ]
        assert baseline.recipes[0].running is None  # format 1 never read the health
        assert baseline.assets == before.assets
    assert state.imports == original.imports and state.pending == original.pending
    # the file changes only at the next write, then in format 2
    assert json.loads(state_path.read_text(encoding="utf-8"))["format_version"] == 1
    store.write(state)
    written = json.loads(state_path.read_text(encoding="utf-8"))
    assert written["format_version"] == 2
    assert all("folder_after" not in r for r in written["imports"].values())
    assert StateStore(state_path).read().baselines == state.baselines


def test_the_newest_read_is_the_baseline_and_failed_imports_are_not_covered() -> None:
    old = [{"type": "recipe", "name": "Sync", "version": 1, "id": 5, "folder": ""}]
    new = [
        {"type": "recipe", "name": "Sync", "version": 2, "id": 5, "folder": ""},
        {"type": "lookup_table", "name": "Codes", "version": 3, "id": 6, "folder": "M"},
    ]

    def record(manifest: str, status: str, finished: str, folder: Any) -> dict[str, Any]:
        return {"manifest": manifest, "target": "acme", "import_id": len(finished),
                "package_id": 1, "package_digest": "d", "status": status,
                "finished_at": finished, "folder_after": folder}  # fmt: skip

    data: dict[str, Any] = {
        "format_version": 1, "serial": 4, "lineage": "x",
        "imports": {
            "a@acme": record("a", "completed", "2026-01-01T00:00:00Z", old),
            "b@acme": record("b", "completed", "2026-01-02T00:00:00Z!", new),
            "c@acme": record("c", "failed", "2026-01-03", None),
            "d@acme": record("d", "failed", "2026-01-01T00:00:00Z+", old),
        },
    }  # fmt: skip
    out = migrate(data, 2)
    baseline = out["baselines"]["acme"]
    assert baseline["recipes"] == [{"id": 5, "name": "Sync", "version": 2}]
    assert baseline["assets"] == [new[1]]
    assert baseline["imports"] == {"a": 20, "b": 21}  # the failed ones have no baseline
    assert all("folder_after" not in r for r in out["imports"].values())
    assert data["imports"]["a@acme"]["folder_after"] == old  # the input is not changed
    assert (
        State.model_validate(out)
        .baselines["acme"]
        .covers(State.model_validate(out).imports["a@acme"])
    )


def test_the_chain_has_a_step_for_every_older_version() -> None:
    assert sorted(MIGRATIONS) == list(range(1, FORMAT_VERSION))


def test_an_unmigratable_v1_file_is_refused_and_left_untouched(state_path: Path) -> None:
    text = json.dumps({"format_version": 1, "serial": 1, "lineage": "x", "imports": ["no"]})
    state_path.write_text(text, encoding="utf-8")
    with pytest.raises(StateError, match="cannot be migrated"):
        StateStore(state_path).read()
    assert state_path.read_text(encoding="utf-8") == text

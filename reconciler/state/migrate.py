"""Older state files, brought to the current format as they are read.

A chain of small steps, one per format version: each takes the raw JSON of its version
and returns the next one's, touching only what changed between them, so fields other
versions of rlcm add (optional ones, with defaults) pass through untouched. The file is
written in the new format at the next write; until then it stays as it was.

1 -> 2: every import record carried `folder_after`, a copy of its target folder read
after it. Format 2 keeps one `TargetBaseline` per target: the latest of those reads
(recipes with their versions, other assets apart), covering each import that had one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["MIGRATIONS", "migrate"]

Json = dict[str, Any]


def _v1_to_v2(data: Json) -> Json:
    out = dict(data)
    imports = {key: dict(record) for key, record in (data.get("imports") or {}).items()}
    latest: dict[str, Json] = {}  # target -> the import record whose read is the newest
    covered: dict[str, dict[str, int]] = {}
    for record in imports.values():
        folder = record.pop("folder_after", None)
        if folder is None or not isinstance(record.get("target"), str):
            continue
        target = record["target"]
        if record.get("status") == "completed":
            covered.setdefault(target, {})[str(record["manifest"])] = int(record["import_id"])
        best = latest.get(target)
        if best is None or str(record.get("finished_at") or "") >= str(best["at"]):
            latest[target] = {"at": record.get("finished_at") or "", "folder": folder}
    baselines = dict(data.get("baselines") or {})
    for target, found in latest.items():
        folder = [dict(a) for a in found["folder"]]
        baselines[target] = {
            "target": target,
            "imports": covered.get(target, {}),
            "read_at": found["at"],
            "folders": [],
            "recipes": [
                {"id": a["id"], "name": a["name"], "version": a.get("version")}
                for a in folder
                if a.get("type") == "recipe" and a.get("id") is not None
            ],
            # format 1 read every asset: its non-recipe ones are the drift baseline of those
            "assets": [a for a in folder if a.get("type") != "recipe"],
            "assets_read_at": found["at"],
        }
    out["imports"] = imports
    out["baselines"] = baselines
    out["format_version"] = 2
    return out


# version -> the step that turns a file of that version into the next
MIGRATIONS: dict[int, Callable[[Json], Json]] = {1: _v1_to_v2}


def migrate(data: Json, current: int) -> Json:
    """`data` brought from its `format_version` up to `current` (unchanged when it is)."""
    while data.get("format_version") != current and data.get("format_version") in MIGRATIONS:
        data = MIGRATIONS[int(data["format_version"])](data)
    return data

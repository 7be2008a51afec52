"""Refreshed live state: what Workato said when we asked, as plain immutable data.

`refresh` builds a `LiveState` from API answers; the planner and drift detection consume
it without any I/O. Keeping this apart from the client's pydantic models keeps the planner
cheap (it runs on tens of thousands of targets) and free of httpx.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "MANIFEST_ARCHIVED",
    "MANIFEST_GONE",
    "MANIFEST_WORKING",
    "LiveAsset",
    "LiveManifest",
    "LiveRecipe",
    "LiveState",
    "asset_key",
]

MANIFEST_WORKING = "working"
MANIFEST_ARCHIVED = "archived"
MANIFEST_GONE = "gone"  # the view answered 404


def asset_key(asset_type: str, name: str) -> str:
    """How assets are matched across workspaces: ids differ, type and name do not."""
    return f"{asset_type}:{name}"


@dataclass(frozen=True, slots=True)
class LiveAsset:
    """One entry of a folder_assets answer (or of a manifest view's assets)."""

    id: int
    type: str
    name: str
    version: int | None = None
    folder: str = ""  # path below the folder that was listed; "" for the folder itself
    zip_name: str = ""
    absolute_path: str = ""
    root_folder: bool = False
    unreachable: bool = False

    @property
    def key(self) -> str:
        return asset_key(self.type, self.name)


@dataclass(frozen=True, slots=True)
class LiveRecipe:
    """One recipe of a target as the Recipes API lists it: version and health."""

    id: int
    name: str
    version: int | None = None
    folder_id: int | None = None
    running: bool = False
    stop_cause: str | None = None
    stopped_at: str | None = None
    job_succeeded_count: int = 0
    job_failed_count: int = 0
    last_run_at: str | None = None

    @property
    def key(self) -> str:
        return asset_key("recipe", self.name)


@dataclass(frozen=True, slots=True)
class LiveManifest:
    """A manifest view. `assets` is None when the answer did not include them."""

    id: int
    name: str
    status: str  # working | archived | gone
    folder_id: int | None = None
    include_tags: bool | None = None
    assets: tuple[LiveAsset, ...] | None = None

    @property
    def exists(self) -> bool:
        # Only a manifest known to be archived or gone is created again: a status rlcm
        # does not know (Workato adds values) must never lead to a second manifest.
        return self.status not in (MANIFEST_ARCHIVED, MANIFEST_GONE)


@dataclass(frozen=True, slots=True)
class LiveState:
    """Everything one refresh read.

    - `source_folders`: folder_id -> assets of that folder (and its subfolders, as
      folder_assets returns them) in the source workspace.
    - `manifests`: manifest name -> its live view, for manifests recorded in state.
    - `target_recipes`: target address -> the target's recipes (Recipes API), for targets
      that have been imported before; None when targets were not refreshed.
    - `target_folders`: target address -> every asset of the target folder
      (folder_assets), read by `rlcm drift` only, for the assets that are not recipes;
      None when not read.
    """

    source_folders: Mapping[int, tuple[LiveAsset, ...]] = field(default_factory=dict)
    manifests: Mapping[str, LiveManifest] = field(default_factory=dict)
    target_folders: Mapping[str, tuple[LiveAsset, ...]] | None = None
    target_recipes: Mapping[str, tuple[LiveRecipe, ...]] | None = None

    @property
    def refreshed_targets(self) -> bool:
        return self.target_recipes is not None

    def fingerprint(self) -> str:
        """A digest of everything read; a saved plan is stale when this moves."""
        return _digest(
            {
                "source_folders": {str(k): _assets(v) for k, v in self.source_folders.items()},
                "manifests": {k: asdict(v) for k, v in self.manifests.items()},
                "target_folders": (
                    None
                    if self.target_folders is None
                    else {k: _assets(v) for k, v in self.target_folders.items()}
                ),
                "target_recipes": (
                    None
                    if self.target_recipes is None
                    else {k: _recipes(v) for k, v in self.target_recipes.items()}
                ),
            }
        )


def _assets(assets: Iterable[LiveAsset]) -> list[dict[str, Any]]:
    # Same dicts as asdict(), built by hand: asdict's recursion made fingerprinting
    # 10,000 refreshed target folders take ~1 s, four times the rest of planning.
    rows = [
        {
            "id": a.id,
            "type": a.type,
            "name": a.name,
            "version": a.version,
            "folder": a.folder,
            "zip_name": a.zip_name,
            "absolute_path": a.absolute_path,
            "root_folder": a.root_folder,
            "unreachable": a.unreachable,
        }
        for a in assets
    ]
    return sorted(rows, key=lambda a: (a["type"], a["name"], a["id"]))


def _recipes(recipes: Iterable[LiveRecipe]) -> list[list[Any]]:
    # what a plan depends on: not the job counts, which move with every job a recipe runs
    return sorted([r.id, r.name, r.version, r.folder_id, r.running] for r in recipes)


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

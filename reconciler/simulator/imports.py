"""Import semantics: a package's entries become assets in a target folder.

Workato's rules as the simulator applies them:
- assets land in the target folder, subfolders mirrored from the zip paths;
  connections go to `folder_id_for_home_assets` when given;
- an asset with the same type and name in the same folder is updated, otherwise created
  with an id new to this workspace; recipe versions are carried from the package;
- a running recipe that would change fails the whole import (nothing changes) unless
  `restart_recipes` is true, in which case it is updated and `restarted`;
- a forced failure (the fault control) hands out the chosen results in recipe order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.simulator.model import add_folder, find_asset, set_asset_body
from reconciler.simulator.packages import PackageEntry

__all__ = ["FAILURE_RESULTS", "SUCCESS_RESULTS", "ImportOutcome", "ImportParams", "apply_import"]

Json = dict[str, Any]
SUCCESS_RESULTS = ("no_update_or_update_without_restart", "restarted")
FAILURE_RESULTS = ("not_found", "stop_failed", "stopped", "restart_failed")
_ORDER = {"connection": 0, "lookup_table": 1, "recipe": 9}  # dependencies first


@dataclass(frozen=True)
class ImportParams:
    folder_id: int
    restart_recipes: bool = False
    include_tags: bool = False
    home_folder_id: int | None = None


@dataclass
class ImportOutcome:
    status: str = "completed"
    error: str | None = None
    recipe_status: list[Json] = field(default_factory=list)


def _target_folder(
    ws: Json, params: ImportParams, entry: PackageEntry, new_id: Callable[[], int]
) -> int:
    if entry.asset_type == "connection" and params.home_folder_id is not None:
        return params.home_folder_id
    folder_id = params.folder_id
    for name in [p for p in entry.folder.split("/") if p]:
        child = next(
            (
                f
                for f in ws["folders"].values()
                if f["parent_id"] == folder_id and f["name"] == name
            ),
            None,
        )
        folder_id = (
            child["id"] if child is not None else add_folder(ws, new_id(), name, folder_id)["id"]
        )
    return folder_id


def _target_body(entry: PackageEntry, include_tags: bool) -> Json:
    body = dict(entry.body)
    if not include_tags:
        body.pop("tags", None)
    if entry.asset_type == "recipe":
        body["config"] = [
            {**item, "account_id": {"name": item["account_id"]["name"]}}
            if isinstance(item.get("account_id"), dict)
            else item
            for item in body.get("config", [])
        ]
    if entry.asset_type == "connection":
        body.pop("root_folder", None)
    return body


def _differs(asset: Json, body: Json) -> bool:
    return bool(asset["body"] != body)


def _existing(ws: Json, entry: PackageEntry, params: ImportParams) -> Json | None:
    """The asset an entry would update, looking only where it would land (no side effects)."""
    folder_id: int | None = params.folder_id
    if entry.asset_type == "connection" and params.home_folder_id is not None:
        folder_id = params.home_folder_id
    else:
        for name in [p for p in entry.folder.split("/") if p]:
            child = next(
                (
                    f
                    for f in ws["folders"].values()
                    if f["parent_id"] == folder_id and f["name"] == name
                ),
                None,
            )
            if child is None:
                return None
            folder_id = child["id"]
    name = entry.body.get("name") or entry.path
    return find_asset(ws, entry.asset_type, str(name), folder_id)


def apply_import(
    ws: Json,
    entries: list[PackageEntry],
    params: ImportParams,
    new_id: Callable[[], int],
    forced: list[str] | dict[str, str] | None = None,
) -> ImportOutcome:
    entries = sorted(entries, key=lambda e: (_ORDER.get(e.asset_type, 5), e.path))
    bodies = {e.path: _target_body(e, params.include_tags) for e in entries}
    if forced is None and not params.restart_recipes:
        blocked = [
            f"{asset['name']} (id {asset['id']})"
            for e in entries
            if e.asset_type == "recipe"
            and (asset := _existing(ws, e, params)) is not None
            and asset.get("running")
            and _differs(asset, bodies[e.path])
        ]
        if blocked:
            return ImportOutcome(
                "failed",
                "Package cannot be imported: running recipes would be updated: "
                + ", ".join(blocked)
                + ". Import with restart_recipes=true to restart them.",
            )
    outcome = ImportOutcome()
    recipe_index = 0
    for entry in entries:
        result = (
            _forced_result(forced, entry, recipe_index) if entry.asset_type == "recipe" else None
        )
        if entry.asset_type == "recipe":
            recipe_index += 1
            if forced is not None and result is None and outcome.status == "failed":
                break  # a failed import may list only some recipes
        asset = _apply_entry(ws, entry, bodies[entry.path], params, new_id, result)
        if entry.asset_type != "recipe":
            continue
        final = result or ("restarted" if asset.get("_restarted") else SUCCESS_RESULTS[0])
        asset.pop("_restarted", None)
        outcome.recipe_status.append({"id": asset["id"], "import_result": final})
        if final in FAILURE_RESULTS:
            outcome.status = "failed"
    if outcome.status == "failed":
        failed = [r for r in outcome.recipe_status if r["import_result"] in FAILURE_RESULTS]
        outcome.error = f"Import failed: {len(failed)} recipe(s) could not be updated or restarted"
    return outcome


def _forced_result(
    forced: list[str] | dict[str, str] | None, entry: PackageEntry, index: int
) -> str | None:
    if forced is None:
        return None
    if isinstance(forced, dict):
        return forced.get(str(entry.body.get("name")))
    return forced[index] if index < len(forced) else None


def _apply_entry(
    ws: Json,
    entry: PackageEntry,
    body: Json,
    params: ImportParams,
    new_id: Callable[[], int],
    result: str | None,
) -> Json:
    folder_id = _target_folder(ws, params, entry, new_id)
    name = str(body.get("name") or entry.path)
    asset = find_asset(ws, entry.asset_type, name, folder_id)
    if result in ("not_found", "stop_failed"):
        return asset or {"id": new_id(), "name": name}  # failed with no update to the recipe
    version = body.get("version") if isinstance(body.get("version"), int) else None
    if asset is None:
        asset = {
            "id": new_id(),
            "type": entry.asset_type,
            "name": name,
            "folder_id": folder_id,
            "version": 0,
            "running": False,
            "body": {},
            "history": {},
        }
        ws["assets"][str(asset["id"])] = asset
        set_asset_body(asset, body, version)
    elif _differs(asset, body):
        was_running = bool(asset.get("running"))
        set_asset_body(asset, body, version)
        if was_running and entry.asset_type == "recipe":
            asset["_restarted"] = True
    if result in ("stopped", "restart_failed"):
        asset["running"] = False  # updated but not restarted
    if result == "restarted":
        asset["running"] = True
    return asset

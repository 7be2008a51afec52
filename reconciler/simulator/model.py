"""Workspace contents: folders, assets with version history, and how they become packages.

A workspace is a plain dict persisted by `Store` (see there for the layout):

    {"key", "user_id", "home_assets_project",
     "folders": {id: {id, name, parent_id}},
     "assets": {id: {id, type, name, folder_id, version, running, body, history}},
     "manifests": {id: {...}}, "jobs": {id: {...}}}

Recipe bodies keep `config[].account_id` as `{"name": ...}`; the package's
`{zip_name, name, folder}` form is filled in when a package is built.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from reconciler.simulator.packages import PackageEntry, zip_file_name

__all__ = [
    "asset_listing",
    "find_asset",
    "folder_path",
    "in_tree",
    "new_workspace",
    "now_iso",
    "package_entries",
    "set_asset_body",
    "tree_folder_ids",
]

Json = dict[str, Any]
VERSIONED_TYPES = {"recipe", "lookup_table"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_workspace(key: str, user_id: int | None) -> Json:
    return {
        "key": key,
        "user_id": user_id,
        "home_assets_project": False,
        "folders": {},
        "assets": {},
        "manifests": {},
        "jobs": {},
    }


def add_folder(ws: Json, folder_id: int, name: str, parent_id: int | None = None) -> Json:
    folder = {"id": folder_id, "name": name, "parent_id": parent_id}
    ws["folders"][str(folder_id)] = folder
    return folder


def folder_chain(ws: Json, folder_id: int | None) -> list[Json]:
    """Folders from the top down to `folder_id` (empty for the root)."""
    chain: list[Json] = []
    seen: set[int] = set()
    while folder_id is not None and folder_id not in seen:
        seen.add(folder_id)
        folder = ws["folders"].get(str(folder_id))
        if folder is None:
            break
        chain.append(folder)
        folder_id = folder["parent_id"]
    return list(reversed(chain))


def folder_path(ws: Json, folder_id: int | None, relative_to: int | None = None) -> str:
    """'A/B' path of a folder, relative to an ancestor (exclusive) when given."""
    names: list[str] = []
    for folder in reversed(folder_chain(ws, folder_id)):
        if folder["id"] == relative_to:
            break
        names.append(folder["name"])
    return "/".join(reversed(names))


def in_tree(ws: Json, folder_id: int | None, root: int | None) -> bool:
    if root is None:
        return True
    return any(f["id"] == root for f in folder_chain(ws, folder_id))


def tree_folder_ids(ws: Json, root: int | None) -> list[int]:
    return [int(k) for k in ws["folders"] if in_tree(ws, int(k), root)]


def find_asset(ws: Json, asset_type: str, name: str, folder_id: int | None) -> Json | None:
    assets: dict[str, Json] = ws["assets"]
    for asset in assets.values():
        same = asset["type"] == asset_type and asset["name"] == name
        if same and (folder_id is None or asset["folder_id"] == folder_id):
            return asset
    return None


def relative_zip_name(ws: Json, asset: Json, root: int | None) -> tuple[str, str, bool]:
    """(zip_name, folder, root_folder) of an asset seen from folder `root`."""
    file_name = zip_file_name(asset["name"], asset["type"])
    if not in_tree(ws, asset["folder_id"], root):
        return file_name, "", True  # a home asset: lands at the zip root
    folder = folder_path(ws, asset["folder_id"], relative_to=root)
    return (f"{folder}/{file_name}" if folder else file_name), folder, False


def asset_listing(ws: Json, asset: Json, root: int | None) -> Json:
    """One entry of folder_assets, as the documents show it."""
    zip_name, folder, root_folder = relative_zip_name(ws, asset, root)
    absolute = "/".join(
        ["All projects", *[f["name"] for f in folder_chain(ws, asset["folder_id"])]]
    )
    entry: Json = {
        "id": asset["id"],
        "name": asset["name"],
        "type": asset["type"],
        "version": asset["version"] if asset["type"] in VERSIONED_TYPES else None,
        "folder": folder,
        "absolute_path": absolute,
        "root_folder": root_folder,
        "unreachable": False,
        "zip_name": zip_name,
        "checked": True,
    }
    if asset["type"] == "connection":
        entry["provider"] = asset["body"].get("provider")
    if asset["type"] == "recipe":
        entry["include_test_cases"] = False
        entry["deps"] = []
    return entry


def set_asset_body(asset: Json, body: Json, version: int | None = None) -> None:
    """Replace an asset's body; recipes and lookup tables get a new version in history."""
    if asset["type"] in VERSIONED_TYPES:
        asset["version"] = version if version is not None else int(asset.get("version") or 0) + 1
        body = {**body, "version": asset["version"]} if asset["type"] == "recipe" else body
        asset.setdefault("history", {})[str(asset["version"])] = copy.deepcopy(body)
    asset["body"] = copy.deepcopy(body)
    asset["name"] = body.get("name", asset["name"])
    asset["updated_at"] = now_iso()


def body_at_version(asset: Json, version: int | None) -> Json | None:
    if version is None or asset["type"] not in VERSIONED_TYPES:
        current: Json = copy.deepcopy(asset["body"])
        return current
    found: Json | None = asset.get("history", {}).get(str(version))
    return copy.deepcopy(found) if found is not None else None


def _package_config(ws: Json, body: Json, root: int | None) -> list[Json]:
    """config[].account_id as {zip_name, name, folder} pointing at the connection."""
    config = []
    for item in body.get("config", []):
        ref = item.get("account_id")
        if isinstance(ref, dict) and ref.get("name"):
            conn = find_asset(ws, "connection", ref["name"], None)
            if conn is not None:
                zip_name, folder, _ = relative_zip_name(ws, conn, root)
                ref = {"zip_name": zip_name, "name": conn["name"], "folder": folder}
            else:
                ref = {"zip_name": zip_file_name(ref["name"], "connection"), **ref, "folder": ""}
        config.append({**item, "account_id": ref})
    return config


def package_entries(
    ws: Json, picks: list[tuple[Json, Json, str | None]], root: int | None
) -> list[PackageEntry]:
    """Entries of a package from (asset, body, zip_name from the manifest) triples."""
    entries = []
    for asset, body, zip_name in picks:
        default_name, _, root_folder = relative_zip_name(ws, asset, root)
        out = copy.deepcopy(body)
        if asset["type"] == "recipe":
            out["config"] = _package_config(ws, body, root)
        if asset["type"] == "connection":
            out = {
                "name": out.get("name"),
                "provider": out.get("provider"),
                "root_folder": root_folder,
            }
        entries.append(PackageEntry(zip_name or default_name, asset["type"], out))
    return entries

"""Field-level comparisons shared by the planner and drift detection.

Each comparison returns `Diff`s: a sentence for a reviewer ("recipe Sync contacts:
version 2 -> 3") and a plain detail dict (`path`, `change`, `before`, `after`) for
machines. Assets are matched by type and name (`asset_key`): ids differ between
workspaces, type and name do not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple

from reconciler.live import LiveAsset, LiveManifest, LiveRecipe, asset_key
from reconciler.plan.manifest_body import ResolvedManifest
from reconciler.state.model import AssetStamp, ManifestRecord, RecipeStamp

__all__ = [
    "Diff",
    "folder_diffs",
    "live_edit_diffs",
    "live_versions",
    "package_diffs",
    "recipe_versions",
    "spec_diffs",
    "target_diffs",
    "version_diffs",
]


class Diff(NamedTuple):
    sentence: str
    detail: dict[str, Any]


def _label(key: str) -> str:
    kind, _, name = key.partition(":")
    return f"{kind} {name}"


def _field(path: str, before: Any, after: Any, sentence: str) -> Diff:
    return Diff(sentence, {"path": path, "change": "changed", "before": before, "after": after})


def _presence(prefix: str, key: str, change: str, where: str, value: Any = None) -> Diff:
    detail: dict[str, Any] = {"path": f"{prefix}[{key}]", "change": change}
    if value is not None:
        detail["before" if change == "removed" else "after"] = value
    return Diff(f"{_label(key)}: {change}{where}", detail)


def version_diffs(
    prefix: str,
    before: Mapping[str, int | None],
    after: Mapping[str, int | None],
    *,
    where: str = "",
    versions_of: Iterable[str] | None = None,
    no_version: str = "none",
) -> list[Diff]:
    """Assets added, removed, or whose version differs, between two key->version maps.

    `versions_of` limits the version comparison to some keys (e.g. pinned assets only);
    `no_version` is how a None version reads ("latest" for an unpinned reference).
    """
    only = None if versions_of is None else set(versions_of)
    diffs: list[Diff] = []
    for key in sorted(before.keys() | after.keys()):
        if key not in before:
            diffs.append(_presence(prefix, key, "added", where, after[key]))
        elif key not in after:
            diffs.append(_presence(prefix, key, "removed", where, before[key]))
        elif before[key] != after[key] and (only is None or key in only):
            old, new = (no_version if v is None else v for v in (before[key], after[key]))
            sentence = f"{_label(key)}: version {old} -> {new}{where}"
            diffs.append(_field(f"{prefix}[{key}].version", before[key], after[key], sentence))
    return diffs


def _stamp_versions(stamps: Iterable[AssetStamp]) -> dict[str, int | None]:
    return {asset_key(s.type, s.name): s.version for s in stamps}


def live_versions(assets: Iterable[LiveAsset]) -> dict[str, int | None]:
    """type:name -> version of a folder's assets."""
    return {f"{a.type}:{a.name}": a.version for a in assets}


def recipe_versions(recipes: Iterable[LiveRecipe | RecipeStamp]) -> dict[str, int | None]:
    """recipe:name -> version of a target's recipes (as the Recipes API listed them)."""
    return {f"recipe:{r.name}": r.version for r in recipes}


def spec_diffs(record: ManifestRecord, resolved: ResolvedManifest) -> list[Diff]:
    """What the config now wants versus the body last sent to Workato."""
    body = resolved.body
    diffs: list[Diff] = []
    if record.folder_id != body["folder_id"]:
        diffs.append(
            _field(
                "folder_id",
                record.folder_id,
                body["folder_id"],
                f"folder {record.folder_id} -> {body['folder_id']}",
            )
        )
    if record.include_tags != body["include_tags"]:
        diffs.append(
            _field(
                "include_tags",
                record.include_tags,
                body["include_tags"],
                f"include_tags {_yn(record.include_tags)} -> {_yn(body['include_tags'])}",
            )
        )
    auto = "auto_generate_assets" in body
    if record.auto_generate != auto:
        diffs.append(
            _field(
                "auto_generate",
                record.auto_generate,
                auto,
                f"auto_generate {_yn(record.auto_generate)} -> {_yn(auto)}",
            )
        )
    if not auto:
        wanted = {asset_key(a["type"], a["name"]): a["version"] for a in body["assets"]}
        recorded = _stamp_versions(record.assets)
        diffs += version_diffs("assets", recorded, wanted, no_version="latest")
        diffs += _moved(record.assets, body["assets"])
    return diffs


def _moved(stamps: Iterable[AssetStamp], assets: Iterable[Mapping[str, Any]]) -> list[Diff]:
    """Same type and name, but another asset (recreated in the source) or another folder."""
    recorded = {asset_key(s.type, s.name): s for s in stamps}
    diffs: list[Diff] = []
    for asset in assets:
        key = asset_key(asset["type"], asset["name"])
        old = recorded.get(key)
        if old is None:
            continue
        if old.id is not None and old.id != asset["id"]:
            sentence = f"{_label(key)}: id {old.id} -> {asset['id']} (recreated in the source)"
            diffs.append(_field(f"assets[{key}].id", old.id, asset["id"], sentence))
        if old.folder != asset["folder"]:
            sentence = f"{_label(key)}: moved from {old.folder!r} to {asset['folder']!r}"
            diffs.append(_field(f"assets[{key}].folder", old.folder, asset["folder"], sentence))
    return diffs


def live_edit_diffs(record: ManifestRecord, view: LiveManifest) -> list[Diff]:
    """Differences between the live manifest view and what rlcm last sent (UI edits).

    Every detail reads as the edit did: `before` what rlcm recorded, `after` what is
    live now (the planner turns them around: there, applying puts the recorded back).
    """
    diffs: list[Diff] = []
    if view.name != record.name:
        diffs.append(_field("name", record.name, view.name, f"renamed to {view.name!r}"))
    if view.folder_id is not None and view.folder_id != record.folder_id:
        sentence = f"folder changed to {view.folder_id}"
        diffs.append(_field("folder_id", record.folder_id, view.folder_id, sentence))
    if view.include_tags is not None and view.include_tags != record.include_tags:
        sentence = f"include_tags changed to {_yn(view.include_tags)}"
        diffs.append(_field("include_tags", record.include_tags, view.include_tags, sentence))
    if view.assets is not None and not record.auto_generate:
        pinned = [asset_key(s.type, s.name) for s in record.assets if s.version is not None]
        diffs += version_diffs(
            "assets",
            _stamp_versions(record.assets),
            live_versions(view.assets),
            where=" in the live manifest",
            versions_of=pinned,
        )
    return diffs


def package_diffs(package_versions: Iterable[AssetStamp], resolved: ResolvedManifest) -> list[Diff]:
    """What a package exported now would hold versus what the last package holds."""
    now = {k: v["version"] for k, v in resolved.expected.items()}
    return version_diffs("assets", _stamp_versions(package_versions), now)


def folder_diffs(
    folder_after: Iterable[AssetStamp],
    live_folder: Mapping[str, int | None],
    keys: Collection[str],
) -> list[Diff]:
    """How a target folder moved since the last import, for the assets the package holds.

    `live_folder` is `live_versions(...)` of the target folder: computed once per target,
    not once per import, because this runs for every import of a fleet.
    """
    return target_diffs({f"{s.type}:{s.name}": s.version for s in folder_after}, live_folder, keys)


def target_diffs(
    baseline: Mapping[str, int | None], live: Mapping[str, int | None], keys: Collection[str]
) -> list[Diff]:
    """How a target moved since its baseline, for the `keys` (type:name) a package holds:
    each map is type:name -> version (`recipe_versions`, `live_versions`), computed once
    per target."""
    before = {k: v for k, v in baseline.items() if k in keys}
    after = {k: live[k] for k in keys if k in live}
    if before == after:
        return []
    return version_diffs("target", before, after, where=" in the target folder")


def _yn(value: bool) -> str:
    return "true" if value else "false"

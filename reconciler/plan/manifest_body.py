"""Resolve a manifest's asset references against the source folder it names.

YAML names assets by type and name, as reviewers read them; Workato wants ids. The
refreshed folder assets (LiveState.source_folders) map one to the other. The result is
the exact body rlcm would send, its `spec_digest`, and the asset versions a package
exported now would hold. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.config.desired import AssetRef, DesiredState, ManifestSpec
from reconciler.errors import PlanError
from reconciler.live import LiveAsset, LiveState, asset_key

__all__ = [
    "ResolvedManifest",
    "digest",
    "resolve_manifest",
    "resolve_manifests",
]


def digest(data: Any) -> str:
    """A stable sha256 of plain data (sorted keys, compact)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ResolvedManifest:
    """One manifest with its references resolved.

    - `body`: the manifest body as rlcm sends it (assets sorted by type and name;
      `version` is the pin, None for latest).
    - `spec_digest`: digest of `body`; unpinned versions are None so a newer recipe
      version changes the package, not the manifest.
    - `expected`: asset key -> stamp (`type`, `name`, `version`, `id`, `folder`) of what a
      package exported now would hold: the pin, or the live version when unpinned; for
      `auto_generate`, every asset of the folder.
    """

    spec: ManifestSpec
    body: Mapping[str, Any]
    spec_digest: str
    expected: Mapping[str, Mapping[str, Any]]

    @property
    def name(self) -> str:
        return self.spec.name

    def asset_versions(self) -> list[dict[str, Any]]:
        return [dict(self.expected[k]) for k in sorted(self.expected)]


def resolve_manifests(
    desired: DesiredState, live: LiveState, warnings: list[str] | None = None
) -> dict[str, ResolvedManifest]:
    """Resolve every manifest, collecting all problems into one PlanError."""
    problems: list[str] = []
    resolved: dict[str, ResolvedManifest] = {}
    for name in desired.manifest_order():
        found = resolve_manifest(desired.manifests[name], live, problems, warnings)
        if found is not None:
            resolved[name] = found
    if problems:
        count = (
            f"{len(problems)} asset references cannot be resolved: " if len(problems) > 1 else ""
        )
        raise PlanError(count + "; ".join(problems))
    return resolved


def resolve_manifest(
    spec: ManifestSpec,
    live: LiveState,
    problems: list[str],
    warnings: list[str] | None = None,
) -> ResolvedManifest | None:
    """Resolve one manifest; append each problem to `problems` and return None if any.

    A pin above the source's current version is suspicious but not fatal: a warning.
    """
    folder = live.source_folders.get(spec.folder_id, ())
    if spec.auto_generate is not None:
        return _auto_generated(spec, folder)
    index = _index(folder)
    assets: list[LiveAsset] = []
    pins: dict[str, int | None] = {}
    before = len(problems)
    for ref in spec.assets or ():
        match = _match(spec, ref, index, problems)
        if match is not None:
            assets.append(match)
            pins[match.key] = ref.version
            if warnings is not None:
                _check_pin(spec, ref, match, warnings)
    if len(problems) > before:
        return None
    assets.sort(key=lambda a: (a.type, a.name))
    body = {
        "name": spec.name,
        "folder_id": spec.folder_id,
        "include_tags": spec.include_tags,
        "assets": [_body_asset(a, pins[a.key]) for a in assets],
    }
    expected = {
        a.key: _stamp(a, pins[a.key] if pins[a.key] is not None else a.version) for a in assets
    }
    return ResolvedManifest(spec, body, digest(body), expected)


def _auto_generated(spec: ManifestSpec, folder: Sequence[LiveAsset]) -> ResolvedManifest:
    flags = spec.auto_generate
    assert flags is not None
    body = {
        "name": spec.name,
        "folder_id": spec.folder_id,
        "include_tags": spec.include_tags,
        "auto_generate_assets": True,
        "include_test_cases": flags.include_test_cases,
        "include_data": flags.include_data,
    }
    expected = {a.key: _stamp(a, a.version) for a in folder}
    return ResolvedManifest(spec, body, digest(body), expected)


def _index(folder: Iterable[LiveAsset]) -> dict[str, list[LiveAsset]]:
    index: dict[str, list[LiveAsset]] = {}
    for asset in folder:
        index.setdefault(asset.key, []).append(asset)
    return index


def _match(
    spec: ManifestSpec, ref: AssetRef, index: Mapping[str, list[LiveAsset]], problems: list[str]
) -> LiveAsset | None:
    where = f"{ref.location}: " if ref.location else ""
    found = index.get(asset_key(ref.type, ref.name), [])
    if len(found) == 1:
        return found[0]
    what = f'manifest {spec.name}: {ref.type} "{ref.name}"'
    if not found:
        problems.append(f"{where}{what} not found in folder {spec.folder_id}{_hint(ref, index)}")
    else:
        places = ", ".join(
            f"id {a.id} in {a.absolute_path or a.folder or 'the folder'}" for a in found
        )
        problems.append(
            f"{where}{what} is ambiguous in folder {spec.folder_id}: {len(found)} match ({places})"
        )
    return None


def _check_pin(spec: ManifestSpec, ref: AssetRef, asset: LiveAsset, warnings: list[str]) -> None:
    if ref.version is not None and asset.version is not None and ref.version > asset.version:
        where = f"{ref.location}: " if ref.location else ""
        warnings.append(
            f"{where}manifest {spec.name}: {ref.type} {ref.name} is pinned to version "
            f"{ref.version} but the source has version {asset.version}"
        )


def _hint(ref: AssetRef, index: Mapping[str, list[LiveAsset]]) -> str:
    names = sorted({a.name for assets in index.values() for a in assets if a.type == ref.type})
    if not names:
        return f" (the folder has no {ref.type} assets)"
    close = difflib.get_close_matches(ref.name, names, n=3, cutoff=0.6)
    shown = close or names[:5]
    label = "did you mean" if close else f"{ref.type} assets there"
    return f" ({label}: {', '.join(repr(n) for n in shown)})"


def _body_asset(asset: LiveAsset, pin: int | None) -> dict[str, Any]:
    return {
        "id": asset.id,
        "type": asset.type,
        "name": asset.name,
        "version": pin,
        "folder": asset.folder,
        "zip_name": asset.zip_name,
        "absolute_path": asset.absolute_path,
        "root_folder": asset.root_folder,
        "unreachable": asset.unreachable,
        "checked": True,
    }


def _stamp(asset: LiveAsset, version: int | None) -> dict[str, Any]:
    return {
        "type": asset.type,
        "name": asset.name,
        "version": version,
        "id": asset.id,
        "folder": asset.folder,
    }

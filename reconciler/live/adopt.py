"""Adopt what rlcm did not create: a live manifest (made in the UI or by an older script),
or imports a script made (`read_target_folders`; the check is reconciler/plan/adoption.py).

No API lists manifests, so the id comes from the user. The manifest is viewed, its name
and folder are checked against the config, and it is recorded in state. The recorded
spec digest is deliberately not the config's: the next plan shows an update that brings
the live manifest exactly in line with the YAML, and a first export and import, which
establish the baseline later plans and drift compare against.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from reconciler.config.desired import DesiredState
from reconciler.errors import PlanError
from reconciler.live.recipes import TargetRecipes, read_target_recipes
from reconciler.state.model import AssetStamp, ManifestRecord

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient
    from reconciler.workato.models import ManifestView

__all__ = ["ADOPTED_DIGEST", "adopt_manifest", "manifest_name", "read_target_folders"]

ADOPTED_DIGEST = "adopted"


def manifest_name(address: str, desired: DesiredState) -> str:
    if not address.startswith("manifest."):
        raise PlanError(f"{address}: only manifests can be adopted (manifest.NAME)")
    name = address.removeprefix("manifest.")
    if name not in desired.manifests:
        known = ", ".join(sorted(desired.manifests)) or "none"
        raise PlanError(f"{address}: no manifest {name!r} in the config (known: {known})")
    return name


async def adopt_manifest(
    desired: DesiredState, client: WorkatoClient, name: str, manifest_id: int
) -> ManifestRecord:
    """View the live manifest, check it is the one the config means, and describe it."""
    spec = desired.manifests[name]
    owner = desired.source.managed_user
    view = await client.view_manifest(owner, manifest_id)
    if view.archived:
        raise PlanError(f"manifest {manifest_id} is archived (deleted); it cannot be adopted")
    if view.name != name:
        raise PlanError(
            f"manifest {manifest_id} is named {view.name!r} in Workato, not {name!r}; "
            "rename one of them first"
        )
    if view.folder_id is not None and view.folder_id != spec.folder_id:
        raise PlanError(
            f"manifest {manifest_id} exports folder {view.folder_id}, but the config says "
            f"folder_id {spec.folder_id}"
        )
    await _check_folder(client, owner, view, spec.folder_id)
    assets = [
        AssetStamp(type=a.type, name=a.name, version=a.version, id=a.id, folder=a.folder)
        for a in view.assets or []
    ]
    return ManifestRecord(
        name=name,
        id=view.id,
        workspace=desired.source.workspace,
        owner=owner,
        folder_id=spec.folder_id,
        include_tags=bool(view.include_tags),
        auto_generate=spec.auto_generate is not None,
        assets=assets,
        spec_digest=ADOPTED_DIGEST,
        updated_at=view.updated_at or "",
    )


async def _check_folder(
    client: WorkatoClient, owner: str | None, view: ManifestView, folder_id: int
) -> None:
    """A manifest view names no folder id (only `project_path`), so check by its assets:
    each must be one the folder (and its subfolders) lists."""
    if view.folder_id is not None or not view.assets:
        return
    listed = {a.id for a in await client.folder_assets(owner, folder_id)}
    outside = sorted(f"{a.type} {a.name!r}" for a in view.assets if a.id not in listed)
    if outside:
        where = f" ({view.project_path})" if view.project_path else ""
        raise PlanError(
            f"manifest {view.id}{where} exports assets that are not in folder {folder_id} "
            f"({', '.join(outside)}), but the config says folder_id {folder_id}"
        )


# (workspace, customer or None, folder id, subfolder paths holding package recipes)
FolderRef = tuple[str, str | None, int, tuple[str, ...]]


async def read_target_folders(
    clients: Mapping[str, WorkatoClient], folders: Mapping[str, FolderRef]
) -> dict[str, TargetRecipes]:
    """Each target's recipes (target address -> them), as a baseline records them.

    The Recipes API answers (2,000/minute, one list per folder: live/recipes.py); a package
    with recipes in subfolders has those subfolders found by path first (the folders API).
    """

    async def read(ref: FolderRef) -> TargetRecipes:
        workspace, customer, folder_id, paths = ref
        client = clients[workspace]
        subfolders = [await _subfolder(client, customer, folder_id, p) for p in paths]
        found = [f for f in subfolders if f is not None]
        return await read_target_recipes(client, customer, folder_id, folders=found)

    read_all = await asyncio.gather(*(read(ref) for ref in folders.values()))
    return dict(zip(folders, read_all, strict=True))


async def _subfolder(
    client: WorkatoClient, owner: str | None, folder_id: int, path: str
) -> int | None:
    """The id of `path` below `folder_id`, or None when it is not there (or, for an
    own-workspace target, cannot be looked up: its recipes are then reported missing)."""
    if owner is None:
        return None
    parent = folder_id
    for name in path.split("/"):
        children = await client.list_folders(owner, parent)
        found = next((f.id for f in children if f.name == name), None)
        if found is None:
            return None
        parent = found
    return parent

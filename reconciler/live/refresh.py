"""Read live state with as few API calls as possible, concurrently, within the quotas.

One `folder_assets` per distinct source folder and one manifest view per manifest recorded
in state: the scarce "other" bucket (60/minute) carries O(manifests) calls. Each target that
has been imported before is read through the Recipes API (2,000/minute, live/recipes.py): a
target never imported has no baseline to drift from, so it is not read at all. Only
`rlcm drift` also reads each target folder's other assets (connections, lookup tables...)
with folder_assets (`target_assets=True`), the one per-target call in the scarce bucket.

All calls of one workspace share that workspace's client and so its quota limiters; the
limiters pace the calls, `asyncio.gather` only keeps them all in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from reconciler.config.desired import DesiredState, QuotaBucket, TargetSpec
from reconciler.errors import ApiError, NotFoundError
from reconciler.live import MANIFEST_GONE, LiveAsset, LiveManifest, LiveState
from reconciler.live.recipes import TargetRecipes, read_target_recipes
from reconciler.state.model import State

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient
    from reconciler.workato.models import Asset, ManifestView

__all__ = ["RefreshCounts", "live_asset", "live_manifest", "refresh", "refresh_reads"]

log = logging.getLogger(__name__)
T = TypeVar("T")
ProgressCallback = Callable[[str], None]


@dataclass
class RefreshCounts:
    """How many reads of each kind a refresh made (shown in verbose output and benchmarks)."""

    source_folders: int = 0
    manifests: int = 0
    target_recipes: int = 0  # targets read through the Recipes API
    target_folders: int = 0  # targets whose folder_assets were read (drift)
    skipped_targets: int = 0
    done: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.source_folders + self.manifests + self.target_recipes + self.target_folders


def live_asset(asset: Asset) -> LiveAsset:
    return LiveAsset(
        id=asset.id,
        type=asset.type,
        name=asset.name,
        version=asset.version,
        folder=asset.folder,
        zip_name=asset.zip_name or "",
        absolute_path=asset.absolute_path,
        root_folder=asset.root_folder,
        unreachable=asset.unreachable,
    )


def live_manifest(view: ManifestView) -> LiveManifest:
    assets = None if view.assets is None else tuple(live_asset(a) for a in view.assets)
    return LiveManifest(
        id=view.id,
        name=view.name,
        status="archived" if view.archived else view.status,
        folder_id=view.folder_id,
        include_tags=view.include_tags,
        assets=assets,
    )


async def refresh(
    desired: DesiredState,
    state: State,
    clients: Mapping[str, WorkatoClient],
    *,
    refresh_targets: bool = True,
    target_assets: bool = False,
    on_read: ProgressCallback | None = None,
) -> tuple[LiveState, RefreshCounts]:
    """Read what the planner needs; `clients` maps workspace name to its client.

    `target_assets` also reads each imported target's folder_assets (drift's check of the
    assets that are not recipes)."""
    counts = RefreshCounts()
    source = clients[desired.source.workspace]
    owner = desired.source.managed_user

    async def tracked(label: str, work: Awaitable[T], subject: str) -> T:
        try:
            result = await work
        except ApiError as exc:  # say which config object the failed call was for
            raise exc.about(subject) from exc
        if on_read is not None:
            on_read(label)
        return result

    folder_ids = sorted({m.folder_id for m in desired.manifests.values()})
    folders = [
        tracked(f"folder {f}", source.folder_assets(owner, f), _folder_subject(desired, f))
        for f in folder_ids
    ]
    names = sorted(state.manifests)
    views = [
        tracked(f"manifest.{n}", _view(clients, source, state, n), _manifest_subject(desired, n))
        for n in names
    ]
    targets = _targets_to_read(desired, state) if refresh_targets else []
    reads = [
        tracked(
            f"target {t.address}",
            _target_recipes(clients, state, t),
            f"{t.subject}: reading its recipes in folder {t.folder_id}",
        )
        for t in targets
    ]
    asset_targets = targets if target_assets else []
    asset_reads = [
        tracked(
            f"assets {t.address}",
            clients[t.workspace].folder_assets(t.customer, t.folder_id),
            f"{t.subject}: reading its folder {t.folder_id}",
        )
        for t in asset_targets
    ]
    results = await asyncio.gather(
        asyncio.gather(*folders),
        asyncio.gather(*views),
        asyncio.gather(*reads),
        asyncio.gather(*asset_reads),
    )
    folder_assets, manifest_views, target_recipes, target_folder_assets = results
    counts.source_folders, counts.manifests = len(folder_ids), len(names)
    counts.target_recipes, counts.target_folders = len(targets), len(asset_targets)
    counts.skipped_targets = len(desired.targets) - len(targets) if refresh_targets else 0
    live = LiveState(
        source_folders={
            f: tuple(live_asset(a) for a in assets)
            for f, assets in zip(folder_ids, folder_assets, strict=True)
        },
        manifests=dict(zip(names, manifest_views, strict=True)),
        target_recipes=(
            dict(zip((t.address for t in targets), target_recipes, strict=True))
            if refresh_targets
            else None
        ),
        target_folders=(
            {
                t.address: tuple(live_asset(a) for a in assets)
                for t, assets in zip(asset_targets, target_folder_assets, strict=True)
            }
            if refresh_targets and target_assets
            else None
        ),
    )
    log.info("refresh: reads=%d targets_skipped=%d", counts.total, counts.skipped_targets)
    return live, counts


async def _view(
    clients: Mapping[str, WorkatoClient], source: WorkatoClient, state: State, name: str
) -> LiveManifest:
    """The manifest's view, asked of the workspace it was recorded in; 404 means gone."""
    record = state.manifests[name]
    client = clients.get(record.workspace, source)
    try:
        return live_manifest(await client.view_manifest(record.owner, record.id))
    except NotFoundError:
        return LiveManifest(id=record.id, name=name, status=MANIFEST_GONE)


async def _target_recipes(
    clients: Mapping[str, WorkatoClient], state: State, target: TargetSpec
) -> TargetRecipes:
    """The target's recipes: its folders' lists, and every recipe rlcm knows it has."""
    baseline = state.baselines.get(target.address)
    known = [r.id for r in baseline.recipes] if baseline is not None else []
    known += [
        r.id
        for name in target.manifests
        if (record := state.last_import(name, target.address)) is not None
        for r in record.recipe_results
        if r.id is not None  # an answer without ids (a dialect): named by position only
    ]
    return await read_target_recipes(
        clients[target.workspace],
        target.customer,
        target.folder_id,
        folders=baseline.folders if baseline is not None else (),
        known_ids=known,
    )


def _folder_subject(desired: DesiredState, folder_id: int) -> str:
    """The manifests a source folder is read for, with where the config declares them."""
    users = [m.subject for m in desired.manifests.values() if m.folder_id == folder_id]
    more = f" and {len(users) - 2} more" if len(users) > 2 else ""
    return (
        f"{', '.join(users[:2])}{more}: reading source folder {folder_id} "
        f"of {desired.source.subject}"
    )


def _manifest_subject(desired: DesiredState, name: str) -> str:
    spec = desired.manifests.get(name)
    what = spec.subject if spec is not None else f"manifest {name} (in state only)"
    return f"{what}: viewing the live manifest"


def _targets_to_read(desired: DesiredState, state: State) -> list[TargetSpec]:
    """Targets that have a recorded import: only they have a baseline to compare with."""
    imported = {record.target for record in state.imports.values()}
    return [t for t in desired.targets.values() if t.address in imported]


def refresh_reads(
    desired: DesiredState, state: State, live: LiveState
) -> Counter[tuple[str, QuotaBucket]]:
    """The calls a refresh like the one that read `live` makes, per (workspace, quota
    bucket): `rlcm apply` refreshes again before its first step, so its estimate counts
    them (plan/estimate.py). One folder_assets per source folder and one view per manifest
    in state ("other"), one recipe list per refreshed target (its Recipes API bucket)."""
    source = desired.source.workspace
    reads: Counter[tuple[str, QuotaBucket]] = Counter()
    reads[(source, "other")] += len(live.source_folders)
    for name in live.manifests:
        record = state.manifests.get(name)
        where = record.workspace if record and record.workspace in desired.workspaces else source
        reads[(where, "other")] += 1
    for address in live.target_recipes or {}:
        target = desired.targets.get(address)
        if target is not None:
            reads[(target.workspace, "recipes" if target.customer else "dev_recipes")] += 1
    return +reads  # no zero entries

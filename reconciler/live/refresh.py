"""Read live state with as few API calls as possible, concurrently, within the quotas.

One `folder_assets` per distinct source folder, one manifest view per manifest recorded in
state, and one `folder_assets` per target folder that has been imported before (a target
never imported has no baseline to drift from, so reading it would spend the scarce "other"
quota for nothing). No call is ever made per recipe.

All calls of one workspace share that workspace's client and so its quota limiters; the
limiters pace the calls, `asyncio.gather` only keeps them all in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from reconciler.config.desired import DesiredState, TargetSpec
from reconciler.errors import ApiError, NotFoundError
from reconciler.live import MANIFEST_GONE, LiveAsset, LiveManifest, LiveState
from reconciler.state.model import State

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient
    from reconciler.workato.models import Asset, ManifestView

__all__ = ["RefreshCounts", "live_asset", "live_manifest", "refresh"]

log = logging.getLogger(__name__)
T = TypeVar("T")
ProgressCallback = Callable[[str], None]


@dataclass
class RefreshCounts:
    """How many reads of each kind a refresh made (shown in verbose output and benchmarks)."""

    source_folders: int = 0
    manifests: int = 0
    target_folders: int = 0
    skipped_targets: int = 0
    done: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.source_folders + self.manifests + self.target_folders


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
    on_read: ProgressCallback | None = None,
) -> tuple[LiveState, RefreshCounts]:
    """Read what the planner needs; `clients` maps workspace name to its client."""
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
            clients[t.workspace].folder_assets(t.customer, t.folder_id),
            f"{t.subject}: reading its folder {t.folder_id}",
        )
        for t in targets
    ]
    results = await asyncio.gather(
        asyncio.gather(*folders), asyncio.gather(*views), asyncio.gather(*reads)
    )
    folder_assets, manifest_views, target_assets = results
    counts.source_folders, counts.manifests = len(folder_ids), len(names)
    counts.target_folders = len(targets)
    counts.skipped_targets = len(desired.targets) - len(targets) if refresh_targets else 0
    live = LiveState(
        source_folders={
            f: tuple(live_asset(a) for a in assets)
            for f, assets in zip(folder_ids, folder_assets, strict=True)
        },
        manifests=dict(zip(names, manifest_views, strict=True)),
        target_folders=(
            {
                t.address: tuple(live_asset(a) for a in assets)
                for t, assets in zip(targets, target_assets, strict=True)
            }
            if refresh_targets
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

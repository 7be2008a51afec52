"""`rlcm plan --diff-content`: what changed inside a package, recipe by recipe.

Workato has no call that returns a recipe's code except a package export, so for every
manifest the plan will export again, this exports the live manifest as it stands (one
package, which nothing refers to afterwards), downloads it, and compares it with the last
package, found by its digest in the local cache (`.rlcm/cache/`). Nothing is recorded in
state: the plan stays a read-only operation on rlcm's side.

A comparison is only meaningful when the live manifest already selects the right assets;
when the plan also creates or updates the manifest, the preview says so and skips it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reconciler.content.cache import PackageCache
from reconciler.content.package import inspect_package
from reconciler.errors import RlcmError
from reconciler.plan import ContentPreview, Plan

if TYPE_CHECKING:
    from reconciler.state.inputs import Inputs
    from reconciler.workato.client import WorkatoClient

__all__ = ["ContentPreview", "preview_content"]

log = logging.getLogger(__name__)


async def preview_content(
    inputs: Inputs, clients: dict[str, WorkatoClient], plan: Plan
) -> list[ContentPreview]:
    manifest_changes = {c.manifest for c in plan.changes if c.kind == "manifest"}
    cache = PackageCache(inputs.cache_dir)
    previews = []
    for change in plan.changes:
        if change.kind != "export":
            continue
        name = change.manifest
        if name in manifest_changes:
            note = "the manifest itself changes first: compare after the apply"
            previews.append(ContentPreview(name, note=note))
            continue
        previews.append(await _preview(inputs, clients, cache, name))
    return previews


async def _preview(
    inputs: Inputs, clients: dict[str, WorkatoClient], cache: PackageCache, name: str
) -> ContentPreview:
    state = inputs.state
    last, record = state.packages.get(name), state.manifests.get(name)
    old = cache.get(last.digest) if last is not None and last.digest else None
    if last is None or record is None or old is None:
        return ContentPreview(name, note="no earlier package in the local cache to compare with")
    source = clients[inputs.desired.source.workspace]
    owner = inputs.desired.source.managed_user
    try:
        started = await source.start_export(owner, record.id)
        job = await source.wait_export(owner, started.id)
        if job.status != "completed":
            return ContentPreview(name, note=f"preview export {job.id} failed: {job.error}")
        data = await source.download_package(owner, job)
        cap = source.settings.max_package_bytes
        info = inspect_package(data, where=f"package {job.id}", max_bytes=cap)
    except RlcmError as exc:
        return ContentPreview(name, note=f"no preview: {exc}")
    cache.put(info.digest, data)
    from reconciler.content.diff import diff_packages  # deepdiff: only when asked for

    changes = diff_packages(old, data)
    sentences = tuple(c.sentence for c in changes)
    note = None if sentences else "no difference in content (only versions moved)"
    return ContentPreview(name, sentences, note, (last.package_id, job.id))

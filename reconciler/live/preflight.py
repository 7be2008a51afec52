"""Pre-flight of the plan: does every target never imported point at something real?

A target never imported has no folder read before its first import (refresh.py), so a
customer or folder id that does not exist would plan as `+ import ... # never imported`
and fail only at apply, with a bare 404. Here each such target costs one read, outside the
scarce RLCM quota ("other", 60/minute, which folder_assets shares with every manifest
call):

- its customer: one Recipes API page (2,000/minute) per distinct customer, which answers
  404 for a managed user Workato does not know. With more customers to check than one
  page of Workato's customer list holds (`GET /api/managed_users`, 100 a page, `customers`
  bucket), that list is read first, a page standing for up to 100 reads: a new fleet of
  1,000 customers costs 10 pages, not 1,000 reads (16 s at Workato's latency, 16 at a
  time). It only confirms: a customer it does not show is read as above (a 404 is the
  error), and it stops once every customer is found, or after one page per
  `_READS_PER_PAGE` customers (at most a minute of its quota): a partner with far more
  customers than new targets pays for few pages;
- its folder: one Folders API page of the folder's subfolders (its own bucket), which
  answers 404 for a folder the workspace does not have. Asked only once the customer is
  known to exist, and for at most one minute's worth of that bucket per workspace
  (`rate_limits.folders`, default 60), first wave first: the first plan of a fleet of
  1,000 new targets would otherwise wait 17 minutes; the rest are named in a warning and
  their first import tells.

Targets whose folder was found by path (or whose customer came from Workato's own list, a
generated Fleet) were resolved through the Folders API already (live/targets.py, which
runs first): they are not asked again.

A missing customer or folder is a `ConfigError` at the target's position in the YAML.
A check that cannot be answered (no permission for that API, a server error after the
retries) is a warning, not an error: the import would tell.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.config.desired import DesiredState, TargetSpec
from reconciler.errors import ApiError, ConfigError, Location
from reconciler.state.model import State

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient

__all__ = ["Preflight", "check_new_targets", "new_targets"]

log = logging.getLogger(__name__)


@dataclass
class Preflight:
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reads: int = 0


def new_targets(desired: DesiredState, state: State) -> list[TargetSpec]:
    """Targets without any recorded import (a target imported once has a baseline read)."""
    imported = {record.target for record in state.imports.values()}
    return [t for t in desired.targets.values() if t.address not in imported]


def _listed(target: TargetSpec) -> tuple[bool, bool]:
    """(customer, folder) already known to exist: found in Workato's customer list (a
    generated Fleet) or by the Folders API's list of a folder path (live/targets.py)."""
    return target.fleet is not None, target.folder_path is not None


async def check_new_targets(
    desired: DesiredState, state: State, clients: Mapping[str, WorkatoClient]
) -> Preflight:
    out = Preflight()
    targets = new_targets(desired, state)
    customers = sorted(
        {
            (t.workspace, t.customer)
            for t in targets
            if t.customer is not None and not any(_listed(t))
        }
    )
    listed = await asyncio.gather(
        *(
            _listed_customers(out, desired, ws, clients[ws], {c for w, c in customers if w == ws})
            for ws in sorted({ws for ws, _ in customers})
        )
    )
    exists: dict[tuple[str, str | None], bool | None] = {
        (ws, c): True for found in listed for ws, c in found
    }
    unlisted = [key for key in customers if key not in exists]
    known = await asyncio.gather(
        *(
            _ask(out, functools.partial(clients[ws].customer_exists, c), f"customer {c}")
            for ws, c in unlisted
        )
    )
    exists.update(zip(unlisted, known, strict=True))
    for target in targets:
        if exists.get((target.workspace, target.customer)) is False:
            message = f"customer {target.customer} does not exist in workspace {target.workspace}"
            out.errors.append(_error(target, message))
    reachable = [
        t
        for t in targets
        if exists.get((t.workspace, t.customer)) is not False and not _listed(t)[1]
    ]
    checked = _within_a_minute(desired, reachable, out)
    found = await asyncio.gather(
        *(
            _ask(
                out,
                functools.partial(clients[t.workspace].folder_exists, t.customer, t.folder_id),
                f"folder {t.folder_id} of target {t.address}",
            )
            for t in checked
        )
    )
    for target, there in zip(checked, found, strict=True):
        if there is False:
            owner = (
                f"the workspace of customer {target.customer}"
                if target.customer is not None
                else f"workspace {target.workspace}"
            )
            message = f"folder {target.folder_id} does not exist in {owner}"
            out.errors.append(_error(target, message))
    log.info("preflight: reads=%d errors=%d", out.reads, len(out.errors))
    return out


# a page of the customer list is read only while there are this many customers to check
# for each page read: it must save at least as many reads as it costs, with room to spare
_READS_PER_PAGE = 10


async def _listed_customers(
    out: Preflight,
    desired: DesiredState,
    workspace: str,
    client: WorkatoClient,
    wanted: set[str | None],
) -> set[tuple[str, str | None]]:
    """(workspace, customer) of `wanted` that Workato's customer list shows (by `E` +
    external id or by number); nothing when they fit in one page's worth of reads.

    The pages that must exist if every wanted customer does (one per 100) are read at
    once; then one at a time, until all are found, a page comes back short (the end of
    the list), or the budget is spent."""
    per_page = client.CUSTOMERS_PER_PAGE
    if len(wanted) <= per_page:
        return set()
    spec = desired.workspaces.get(workspace)
    quota = int(spec.rate_limits.customers) if spec else 60
    budget = max(1, min(quota, -(-len(wanted) // _READS_PER_PAGE)))
    needed = -(-len(wanted) // per_page)  # the pages there are if every wanted one exists
    batch = range(1, min(budget, needed) + 1)
    found: set[str | None] = set()
    try:
        while True:
            pages = await asyncio.gather(*(client.customer_page(p) for p in batch))
            out.reads += len(batch)
            for customers in pages:
                found |= wanted & {ref for c in customers for ref in (c.ref, str(c.id))}
            ended = any(len(customers) < per_page for customers in pages)  # the list's end
            if ended or found == wanted or batch[-1] >= budget:
                break
            batch = range(batch[-1] + 1, batch[-1] + 2)
    except ApiError as exc:  # the reads one by one ask the rest
        log.info("preflight: customer list failed workspace=%s error=%s", workspace, exc)
    return {(workspace, c) for c in found}


def _within_a_minute(
    desired: DesiredState, targets: list[TargetSpec], out: Preflight
) -> list[TargetSpec]:
    """The targets whose folder check fits in one minute of each workspace's folders quota,
    in wave order (the canary's first); a warning counts the others."""
    order = {wave: i for i, wave in enumerate(desired.rollout.waves)}
    ranked = sorted(targets, key=lambda t: order.get(t.wave, len(order)))
    kept: list[TargetSpec] = []
    left: dict[str, int] = {}
    for target in ranked:
        spec = desired.workspaces.get(target.workspace)
        room = left.setdefault(target.workspace, int(spec.rate_limits.folders) if spec else 60)
        if room > 0:
            kept.append(target)
            left[target.workspace] = room - 1
    skipped = len(targets) - len(kept)
    if skipped:
        out.warnings.append(
            f"the folders of {skipped} new targets were not checked (one minute of the "
            "folders quota is spent per plan, first wave first); their first import will "
            "tell if one does not exist"
        )
    return kept


async def _ask(out: Preflight, check: Callable[[], Awaitable[bool]], what: str) -> bool | None:
    """True or False as Workato answered; None (with a warning) when it could not say.
    `check` makes the read only once this runs: cancelled before (the refresh beside it
    failed), no coroutine is left never awaited."""
    out.reads += 1
    try:
        return await check()
    except ApiError as exc:
        out.warnings.append(f"could not check that {what} exists: {exc}")
        return None


def _error(target: TargetSpec, message: str) -> ConfigError:
    return ConfigError(
        f'target "{target.address}": {message} (checked before its first import)',
        target.location or Location(""),
    )

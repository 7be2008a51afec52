"""Pre-flight of the plan: does every target never imported point at something real?

A target never imported has no folder read before its first import (refresh.py), so a
customer or folder id that does not exist would plan as `+ import ... # never imported`
and fail only at apply, with a bare 404. Here each such target costs one read, outside the
scarce RLCM quota ("other", 60/minute, which folder_assets shares with every manifest
call):

- its customer: one Recipes API page (2,000/minute) per distinct customer, which answers
  404 for a managed user Workato does not know;
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
    known = await asyncio.gather(
        *(
            _ask(out, functools.partial(clients[ws].customer_exists, c), f"customer {c}")
            for ws, c in customers
        )
    )
    exists: dict[tuple[str, str | None], bool | None] = dict(zip(customers, known, strict=True))
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

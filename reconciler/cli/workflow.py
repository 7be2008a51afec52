"""The steps plan, apply, drift and adopt share: load, connect, refresh, plan.

The CLI calls these and renders what they return; nothing here prints. Keeping them out
of the click commands lets tests and benchmarks drive the same path without a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.config.desired import DesiredState, StateSpec
from reconciler.errors import ConfigErrors, StalePlanError
from reconciler.live import LiveState
from reconciler.plan import ContentPreview, Plan
from reconciler.state.backends import StateBackend
from reconciler.state.inputs import Inputs
from reconciler.state.model import LearnedQuota, State

BUCKET_NAMES = ("imports", "import_status", "dev_imports", "other")

if TYPE_CHECKING:
    from reconciler.live.preflight import Preflight
    from reconciler.live.refresh import RefreshCounts
    from reconciler.workato.client import WorkatoClient

__all__ = [
    "Inputs",
    "check_saved_plan",
    "check_saved_plan_state",
    "complete_targets",
    "load_inputs",
    "load_saved_plan",
    "open_clients",
    "open_state",
    "plan_now",
    "preview_now",
    "read_live",
    "refresh_and_plan",
    "used_workspaces",
]

log = logging.getLogger(__name__)


def load_inputs(config: Path, state_path: Path, *, explicit_state: bool = True) -> Inputs:
    """The config and the state its backend holds. `state_path` is the file backend's path;
    `explicit_state`: it came from --state (an error when the config names PostgreSQL)."""
    from reconciler.config import load_desired
    from reconciler.state.identity import check_source

    desired = load_desired(config)
    store = open_state(desired.state, config, state_path, explicit_state=explicit_state)
    state = store.read()
    check_source(state, desired, store.where)
    return Inputs(desired, store, state)


def open_state(
    spec: StateSpec, config: Path, state_path: Path, *, explicit_state: bool
) -> StateBackend:
    """The backend of a config's `kind: State` (the file at `state_path` without one)."""
    from reconciler.errors import StateError
    from reconciler.state.backends import open_backend

    if spec.backend != "file" and explicit_state:
        raise StateError(
            f"--state {state_path} names a state file, but the config keeps its state in "
            f"PostgreSQL ({spec.location}); `rlcm state pull` writes a copy to a file"
        )
    local_dir = config if config.is_dir() else config.parent
    return open_backend(spec, state_file=state_path, local_dir=local_dir)


def used_workspaces(desired: DesiredState) -> list[str]:
    """The source's workspace and every target's, in config order."""
    names = [desired.source.workspace] + [t.workspace for t in desired.targets.values()]
    names += [f.template.workspace for f in desired.fleet_sources]
    return [n for n in dict.fromkeys(names) if n in desired.workspaces]


@contextlib.asynccontextmanager
async def open_clients(
    desired: DesiredState, learned: Mapping[str, LearnedQuota] | None = None
) -> AsyncIterator[dict[str, WorkatoClient]]:
    """One client per workspace in use; a missing token is reported before any call.

    `learned` (state's `quotas`): rates an earlier run's 429s taught; each bucket starts
    at the lower of that and its configured quota, so a second run does not meet the
    stricter Workato with a burst again."""
    from reconciler.cli.connect import open_client

    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, WorkatoClient] = {}
        for name in used_workspaces(desired):
            client = open_client(desired.workspaces[name])
            for quota in (learned or {}).values():
                if quota.workspace == name and quota.bucket in BUCKET_NAMES:
                    scale = desired.workspaces[name].rate_limits.time_scale
                    client.limiters.bucket(quota.bucket).believe(  # type: ignore[arg-type]
                        quota.limit, quota.window / scale
                    )
            clients[name] = await stack.enter_async_context(client)
        yield clients


async def refresh_and_plan(
    inputs: Inputs,
    clients: dict[str, WorkatoClient],
    *,
    prune: bool = False,
    targets: Sequence[str] = (),
    refresh_targets: bool = True,
    on_read: Callable[[str], None] | None = None,
    rollback_to: int | None = None,
    preflight: bool = True,
) -> tuple[Plan, LiveState, RefreshCounts]:
    """Refresh and plan; with `rollback_to`, for the packages recorded at that serial (the
    same refresh every time, so a saved rollback plan is checked as any other). Without
    `preflight`, targets never imported are not checked (live/preflight.py): `rlcm adopt`
    reads every such target's recipes itself, which answers 404 for a missing customer."""

    from reconciler.live.preflight import check_new_targets
    from reconciler.live.refresh import refresh
    from reconciler.plan.planner import build_plan

    warnings = await complete_targets(inputs, clients)
    desired, notes = inputs.desired, list[str]()
    if rollback_to is not None:
        from reconciler.plan.rollback import rollback_desired

        then = inputs.store.read_serial(rollback_to)
        desired, notes = rollback_desired(desired, then, rollback_to)
    refreshing = asyncio.ensure_future(
        refresh(desired, inputs.state, clients, refresh_targets=refresh_targets, on_read=on_read)
    )
    checking = asyncio.ensure_future(
        check_new_targets(desired, inputs.state, clients) if preflight else _no_preflight()
    )
    try:
        (live, counts), checked = await asyncio.gather(refreshing, checking)
    except BaseException:  # the other one sends nothing more once the command failed
        for task in (refreshing, checking):
            task.cancel()
        await asyncio.gather(refreshing, checking, return_exceptions=True)
        raise
    if checked.errors:
        raise ConfigErrors(checked.errors)  # every missing customer and folder, at once
    plan = build_plan(
        desired, inputs.state, live, prune=prune, targets=targets, rollback_to=rollback_to
    )
    notes = [*warnings, *notes]
    if notes or checked.warnings:
        plan = dataclasses.replace(plan, warnings=(*notes, *plan.warnings, *checked.warnings))
    return plan, live, counts


async def _no_preflight() -> Preflight:
    from reconciler.live.preflight import Preflight

    return Preflight()


async def complete_targets(inputs: Inputs, clients: dict[str, WorkatoClient]) -> list[str]:
    """Generated fleets, folder paths and environments resolved from Workato, in place:
    `inputs.desired` holds the complete targets afterwards. Returns the warnings."""
    from reconciler.live.targets import resolve_targets

    inputs.desired, reads = await resolve_targets(inputs.desired, inputs.state, clients)
    if reads.customer_lists or reads.folder_lists:
        log.info(
            "targets: customer_lists=%d folder_lists=%d cached=%d",
            reads.customer_lists,
            reads.folder_lists,
            reads.cached,
        )
    return reads.warnings


async def plan_now(
    inputs: Inputs,
    *,
    prune: bool = False,
    targets: Sequence[str] = (),
    refresh_targets: bool = True,
    on_read: Callable[[str], None] | None = None,
    rollback_to: int | None = None,
) -> tuple[Plan, LiveState, RefreshCounts]:
    """Connect, refresh and plan in one go (`rlcm plan`)."""
    async with open_clients(inputs.desired, inputs.state.quotas) as clients:
        return await refresh_and_plan(
            inputs,
            clients,
            prune=prune,
            targets=targets,
            refresh_targets=refresh_targets,
            on_read=on_read,
            rollback_to=rollback_to,
        )


async def preview_now(inputs: Inputs, plan: Plan) -> list[ContentPreview]:
    """`plan --diff-content`: what each planned export would change, recipe by recipe."""
    from reconciler.content.preview import preview_content

    async with open_clients(inputs.desired, inputs.state.quotas) as clients:
        return await preview_content(inputs, clients, plan)


async def read_live(
    inputs: Inputs,
    *,
    refresh_targets: bool = True,
    on_read: Callable[[str], None] | None = None,
) -> LiveState:
    """Connect and refresh only (`rlcm drift`): targets' recipes, and their other assets."""
    from reconciler.live.refresh import refresh

    async with open_clients(inputs.desired, inputs.state.quotas) as clients:
        await complete_targets(inputs, clients)
        live, _ = await refresh(
            inputs.desired,
            inputs.state,
            clients,
            refresh_targets=refresh_targets,
            target_assets=refresh_targets,
            on_read=on_read,
        )
        return live


def load_saved_plan(path: Path) -> Plan:
    from reconciler.errors import PlanError
    from reconciler.render.plan_json import load_plan

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the saved plan ({exc})") from None
    return load_plan(text, str(path))


def check_saved_plan(
    plan: Plan, state: State, live: LiveState, desired: DesiredState | None = None
) -> None:
    """Refuse a saved plan made against another config, state or live state."""
    from reconciler.plan.planner import config_digest

    # a rollback plan pins the config's manifests at an earlier serial: its config
    # differs from the one on disk by design (the state checks below still hold)
    rollback = plan.rollback_to is not None
    if desired is not None and not rollback and plan.config_digest != config_digest(desired):
        raise StalePlanError(
            "saved plan is stale: it was made from another config (config_digest "
            f"{plan.config_digest}, the config now gives {config_digest(desired)}); "
            "run `rlcm plan` again"
        )
    check_saved_plan_state(plan, state)
    if plan.live_fingerprint != live.fingerprint():
        raise StalePlanError(
            "saved plan is stale: live Workato changed since it was made (manifests, "
            "source folders or target folders differ); run `rlcm plan` again"
        )


def check_saved_plan_state(plan: Plan, state: State) -> None:
    """The half of `check_saved_plan` that needs no read of Workato: asked first, so a
    plan whose state moved is refused as stale before anything is refreshed (a rollback
    plan's serial may even have left the history meanwhile)."""
    from reconciler.plan.planner import plan_lineage

    lineage = plan_lineage(state)
    if not plan.state_lineage and lineage:
        raise StalePlanError(
            "saved plan is stale: it was made before the first apply wrote any state, and "
            f"state has been written since (serial {state.serial}); run `rlcm plan` again"
        )
    if plan.state_lineage != lineage:
        raise StalePlanError(
            "saved plan is stale: it was made against another state history "
            f"(lineage {plan.state_lineage or 'none'}, state has {lineage or 'none'}); "
            "run `rlcm plan` again"
        )
    if plan.state_serial != state.serial:
        raise StalePlanError(
            f"saved plan is stale: state moved from serial {plan.state_serial} to "
            f"{state.serial} since it was made; run `rlcm plan` again"
        )

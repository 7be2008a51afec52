"""Bake time and health gates: wait after a wave, then ask its recipes how they are.

A wave with `bake: 15m` makes the next wave wait that long after its imports; at the end
of the bake each of its targets' recipes is read once through the Recipes API (2,000 a
minute, reconciler/live/recipes.py) and compared with the baseline read after its imports
(`State.baselines`):

- `recipes_running`: a recipe running at the baseline is still running;
- `no_error_stops`: no recipe stopped with an error cause (`stop_cause`) since then;
- `max_new_failed_jobs`: the target's recipes failed at most N more jobs than then.

A target that fails a condition counts against the wave's `max_failures`, as a failed
import does; the halt reason names each target and recipe. The same check runs when a
later `rlcm apply --wave` finds an earlier wave with a bake (after waiting out what is
left of it), so separate CI jobs behave as one apply with a pause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from reconciler.config.desired import HealthSpec
from reconciler.errors import ApiError
from reconciler.live.recipes import read_target_recipes
from reconciler.state.model import State, TargetBaseline

if TYPE_CHECKING:
    from reconciler.live.model import LiveRecipe
    from reconciler.workato.client import WorkatoClient

__all__ = ["HealthTarget", "bake_left", "check_health", "wait_bake"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthTarget:
    """Where one target's recipes are read from."""

    address: str
    workspace: str
    customer: str | None
    folder_id: int


def bake_left(finished_at: str, bake: float, now: float | None = None) -> float:
    """Seconds of a bake still to wait for a wave that finished at `finished_at` (ISO).
    Counted from the end of that second (the record has whole seconds): never shorter."""
    ended = datetime.strptime(finished_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    moment = time.time() if now is None else now
    return max(0.0, ended.timestamp() + 1 + bake - moment)


async def wait_bake(seconds: float, stop: asyncio.Event) -> bool:
    """Wait out a bake; False when the apply was stopped (Ctrl-C) meanwhile."""
    if seconds <= 0:
        return not stop.is_set()
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return True
    return False


async def check_health(
    targets: Sequence[HealthTarget],
    state: State,
    clients: Mapping[str, WorkatoClient],
    health: HealthSpec,
) -> dict[str, list[str]]:
    """Each unhealthy target's problems, one sentence per recipe ("Sync accounts stopped
    (trigger_errors_limit)"); a target whose recipes cannot be read is unhealthy too."""
    answers = await asyncio.gather(*(_read(t, state, clients) for t in targets))
    problems: dict[str, list[str]] = {}
    for target, answer in zip(targets, answers, strict=True):
        baseline = state.baselines.get(target.address)
        if isinstance(answer, str):
            problems[target.address] = [answer]
            continue
        found = _problems(baseline, answer, health)
        if found:
            problems[target.address] = found
    log.info("health: targets=%d unhealthy=%d", len(targets), len(problems))
    return problems


async def _read(
    target: HealthTarget, state: State, clients: Mapping[str, WorkatoClient]
) -> tuple[LiveRecipe, ...] | str:
    baseline = state.baselines.get(target.address)
    try:
        return await read_target_recipes(
            clients[target.workspace],
            target.customer,
            target.folder_id,
            folders=baseline.folders if baseline else (),
            known_ids=[r.id for r in baseline.recipes] if baseline else (),
        )
    except ApiError as exc:
        return f"its recipes could not be read ({exc})"


def _problems(
    baseline: TargetBaseline | None, now: Sequence[LiveRecipe], health: HealthSpec
) -> list[str]:
    before = {r.id: r for r in baseline.recipes} if baseline is not None else {}
    current = {r.id: r for r in now}
    found: list[str] = []
    for recipe_id, then in before.items():
        recipe = current.get(recipe_id)
        if health.recipes_running and then.running and (recipe is None or not recipe.running):
            why = "is gone" if recipe is None else "is not running"
            cause = f" ({recipe.stop_cause})" if recipe is not None and recipe.stop_cause else ""
            found.append(f"recipe {then.name} {why}{cause}")
    for recipe in now:
        then_stamp = before.get(recipe.id)
        new_stop = then_stamp is None or then_stamp.stopped_at != recipe.stopped_at
        already = any(recipe.name in line for line in found)
        stopped = health.no_error_stops and recipe.stop_cause and not recipe.running
        if stopped and new_stop and not already:
            found.append(f"recipe {recipe.name} stopped with an error ({recipe.stop_cause})")
    if health.max_new_failed_jobs is not None:
        new = sum(
            max(0, r.job_failed_count - (before[r.id].job_failed_count or 0))
            for r in now
            if r.id in before
        )
        if new > health.max_new_failed_jobs:
            found.append(
                f"{new} new failed jobs (max_new_failed_jobs is {health.max_new_failed_jobs})"
            )
    return found

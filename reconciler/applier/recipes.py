"""The `recipes.TARGET` step: a target's imported recipes brought to the declared running
state (`recipes: running` starts them, `recipes: stopped` stops them).

It runs after the target's imports and their baseline read. It reads the target's recipes
again (Recipes API, 2,000/minute: cheap, and it sees a recipe stopped since the plan), then
starts or stops, concurrently, each recipe the target's packages hold that is not as
declared (`PUT .../recipes/:id/start|stop`, 1,000/minute). Workato refuses a start that
cannot happen with `success: false` and its reasons (`code_errors`, `config_errors`: a
connection the customer has not authorized yet): that is this target's failure, with the
reasons, and the report shows it as such (exit 3). The target's baseline records the new
running state, so that a later stop reads as "stopped since the last apply".
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from reconciler.applier.steps import StepContext, StepFailed, _guarded, _Timer
from reconciler.live import LiveRecipe
from reconciler.live.recipes import read_target_recipes
from reconciler.plan import Change
from reconciler.report import StepOutcome

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient

__all__ = ["run_recipes"]

log = logging.getLogger(__name__)


async def run_recipes(ctx: StepContext, change: Change) -> StepOutcome:
    timer = _Timer()
    return await _guarded(ctx, change, timer, _recipes(ctx, change, timer))


def _recipe_names(ctx: StepContext, manifests: list[str]) -> set[str]:
    """The recipes the target's packages hold, by name (as the last packages say)."""
    packages = ctx.recorder.state.packages
    return {
        stamp.name
        for name in manifests
        if (package := packages.get(name)) is not None
        for stamp in package.asset_versions
        if stamp.type == "recipe"
    }


async def _recipes(ctx: StepContext, change: Change, timer: _Timer) -> StepOutcome:
    data = change.data
    start = data["recipes"] == "running"
    client = ctx.clients[data["workspace"]]
    owner, target = data.get("customer"), str(change.target)
    baseline = ctx.recorder.state.baselines.get(target)
    recipes = await read_target_recipes(
        client,
        owner,
        int(data["folder_id"]),
        folders=baseline.folders if baseline is not None else (),
        known_ids=[r.id for r in baseline.recipes] if baseline is not None else (),
    )
    names = _recipe_names(ctx, list(data.get("manifests") or []))
    todo = sorted((r for r in recipes if r.name in names and r.running != start), key=_by_name)
    verb = "start" if start else "stop"
    if not todo:
        return timer.outcome(change, "succeeded", message=f"no recipe to {verb}")
    refused = await asyncio.gather(*(_act(client, owner, r, start) for r in todo))
    done = [r for r, why in zip(todo, refused, strict=True) if why is None]
    _record(ctx, target, done, start)
    failures = [f"{r.name}: {why}" for r, why in zip(todo, refused, strict=True) if why]
    if failures:
        raise StepFailed(f"Workato refused to {verb} {_count(failures)}: " + "; ".join(failures))
    past = "started" if start else "stopped"
    listed = ", ".join(r.name for r in done)
    return timer.outcome(change, "succeeded", message=f"{past} {_count(done)}: {listed}")


async def _act(
    client: WorkatoClient, owner: str | None, recipe: LiveRecipe, start: bool
) -> str | None:
    """None when done; else Workato's reasons for refusing."""
    answer = await (client.start_recipe if start else client.stop_recipe)(owner, recipe.id)
    if answer.success:
        return None
    log.info("recipes: refused recipe=%s reasons=%s", recipe.id, answer.reasons)
    return "; ".join(answer.reasons)


def _record(ctx: StepContext, target: str, done: list[LiveRecipe], start: bool) -> None:
    """The baseline's stamps of the recipes just started (stopped) say so."""
    baseline = ctx.recorder.state.baselines.get(target)
    if baseline is None or not done:
        return
    ids = {r.id for r in done}
    update = {"running": start, "stop_cause": None} if start else {"running": False}
    stamps = [s.model_copy(update=update) if s.id in ids else s for s in baseline.recipes]
    ctx.recorder.baseline_saved(baseline.model_copy(update={"recipes": stamps}))


def _by_name(recipe: LiveRecipe) -> str:
    return recipe.name


def _count(items: list[object] | list[str] | list[LiveRecipe]) -> str:
    return f"{len(items)} recipe" if len(items) == 1 else f"{len(items)} recipes"

"""A target's recipes through the Recipes API: versions for drift, and recipe health.

The Recipes API lists one folder at a time (`folder_id` does not include subfolders), at
2,000 requests a minute, with each recipe's version, running state, stop cause and job
counts (docs.workato.com/oem/oem-api/recipes.html). A target is read as: one list per
folder known to hold its recipes (the target folder, and the subfolders a package put
recipes in), then one get per recipe rlcm knows of that no list showed (a recipe in a
subfolder not known yet, or moved): a 404 there means the recipe is gone. The scarce
60/minute bucket is never used for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from reconciler.errors import NotFoundError
from reconciler.live.model import LiveRecipe
from reconciler.state.model import RecipeStamp

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient
    from reconciler.workato.models import Recipe

__all__ = [
    "HEALTH_FIELDS",
    "TargetRecipes",
    "health_row",
    "live_recipe",
    "read_target_recipes",
    "recipe_folders",
    "recipe_stamp",
]

TargetRecipes = tuple[LiveRecipe, ...]
# a recipe's health as plans, drift reports and apply reports carry it
HEALTH_FIELDS = (
    "id", "name", "version", "running", "stop_cause", "stopped_at",
    "job_succeeded_count", "job_failed_count", "last_run_at",
)  # fmt: skip


def health_row(recipe: LiveRecipe) -> dict[str, object]:
    """A recipe's version, running state, stop cause and job counts, as last read."""
    return {name: getattr(recipe, name) for name in HEALTH_FIELDS}


def live_recipe(recipe: Recipe) -> LiveRecipe:
    return LiveRecipe(
        id=recipe.id,
        name=recipe.name,
        version=recipe.version_no,
        folder_id=recipe.folder_id,
        running=recipe.running,
        stop_cause=recipe.stop_cause,
        stopped_at=recipe.stopped_at,
        job_succeeded_count=recipe.job_succeeded_count,
        job_failed_count=recipe.job_failed_count,
        last_run_at=recipe.last_run_at,
    )


def recipe_stamp(recipe: LiveRecipe) -> RecipeStamp:
    return RecipeStamp(
        id=recipe.id,
        name=recipe.name,
        version=recipe.version,
        folder_id=recipe.folder_id,
        running=recipe.running,
        stop_cause=recipe.stop_cause,
        stopped_at=recipe.stopped_at,
        job_succeeded_count=recipe.job_succeeded_count,
        job_failed_count=recipe.job_failed_count,
        last_run_at=recipe.last_run_at,
    )


async def read_target_recipes(
    client: WorkatoClient,
    owner: str | None,
    folder_id: int,
    *,
    folders: Iterable[int] = (),
    known_ids: Iterable[int] = (),
) -> TargetRecipes:
    """The recipes of a target folder and of `folders`, plus each of `known_ids` wherever
    it is now (gone ones left out), newest id first."""
    where = list(dict.fromkeys([folder_id, *folders]))
    pages = await asyncio.gather(*(client.list_recipes(owner, folder_id=f) for f in where))
    found = {r.id: r for page in pages for r in page}
    missing = [i for i in dict.fromkeys(known_ids) if i not in found]
    for recipe in await asyncio.gather(*(_get(client, owner, i) for i in missing)):
        if recipe is not None:
            found[recipe.id] = recipe
    return tuple(live_recipe(found[i]) for i in sorted(found, reverse=True))


async def _get(client: WorkatoClient, owner: str | None, recipe_id: int) -> Recipe | None:
    try:
        return await client.get_recipe(owner, recipe_id)
    except NotFoundError:
        return None


def recipe_folders(recipes: Iterable[LiveRecipe], folder_id: int) -> list[int]:
    """The folders other than the target folder that hold its recipes."""
    return sorted({f for r in recipes if (f := r.folder_id) is not None and f != folder_id})

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
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from reconciler.errors import NotFoundError
from reconciler.live.model import LiveRecipe
from reconciler.state.model import RecipeStamp

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient
    from reconciler.workato.models import Recipe

__all__ = [
    "HEALTH_FIELDS",
    "RECIPE_FIELDS",
    "TargetRecipes",
    "health_row",
    "live_recipe",
    "read_target_recipes",
    "recipe_folders",
    "recipe_stamp",
]

TargetRecipes = tuple[LiveRecipe, ...]
# what rlcm reads of a recipe, and so what state's RecipeStamp records of it
RECIPE_FIELDS = tuple(f.name for f in fields(LiveRecipe))
# a recipe's health as plans, drift reports and apply reports carry it: all but its folder
HEALTH_FIELDS = tuple(name for name in RECIPE_FIELDS if name != "folder_id")


def _values(source: object, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(source, name) for name in names}


def health_row(recipe: LiveRecipe) -> dict[str, object]:
    """A recipe's version, running state, stop cause and job counts, as last read."""
    return _values(recipe, HEALTH_FIELDS)


def live_recipe(recipe: Recipe) -> LiveRecipe:
    values = _values(recipe, (name for name in RECIPE_FIELDS if name != "version"))
    return LiveRecipe(version=recipe.version_no, **values)  # the API's name: version_no


def recipe_stamp(recipe: LiveRecipe) -> RecipeStamp:
    return RecipeStamp(**_values(recipe, RECIPE_FIELDS))


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

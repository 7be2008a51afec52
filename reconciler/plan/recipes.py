"""The declared running state of a target's recipes (`recipes: running | stopped`).

One `recipes.TARGET` change per target whose imported recipes should be started (or
stopped): after the target's imports in the same plan (it depends on them), or alone when
the Recipes API shows an imported recipe in the other state. `unchanged` (the default)
plans nothing. Which recipes: those the target's packages hold, as the target's recipes
are read after its imports (applier/recipes.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.config.desired import DesiredState, TargetSpec
from reconciler.live import LiveRecipe, LiveState
from reconciler.plan import Action, Change
from reconciler.plan.imports import ManifestFacts, targets_in_wave_order

__all__ = ["recipe_changes", "recipe_keys"]


def recipe_keys(target: TargetSpec, facts: Mapping[str, ManifestFacts]) -> frozenset[str]:
    """recipe:NAME of every recipe the target's packages hold."""
    return frozenset(
        key
        for name in target.manifests
        if name in facts
        for key in facts[name].package_keys
        if key.startswith("recipe:")
    )


def recipe_changes(
    desired: DesiredState,
    live: LiveState,
    facts: Mapping[str, ManifestFacts],
    imports: Sequence[Change],
) -> list[Change]:
    planned: dict[str, list[str]] = {}
    for change in imports:
        if change.action == "import" and change.target is not None:
            planned.setdefault(change.target, []).append(change.address)
    changes: list[Change] = []
    for target in targets_in_wave_order(desired):
        if target.recipes == "unchanged":
            continue
        recipes = (live.target_recipes or {}).get(target.address)
        found = _change(target, recipes, recipe_keys(target, facts), planned.get(target.address))
        if found is not None:
            changes.append(found)
    return changes


def _change(
    target: TargetSpec,
    recipes: tuple[LiveRecipe, ...] | None,
    keys: frozenset[str],
    after: list[str] | None,
) -> Change | None:
    start = target.recipes == "running"
    verb: Action = "start" if start else "stop"
    wrong = [r for r in recipes or () if r.key in keys and r.running != start]
    if not after and not wrong:
        return None  # nothing imported now, and every recipe read is as declared
    reasons: list[str] = []
    if after:
        state = "not running" if start else "running"
        reasons.append(f"after its imports: {verb} the imported recipes that are {state}")
    reasons += [_reason(r, start) for r in sorted(wrong, key=lambda r: r.name)]
    details = [
        {"path": f"recipe[{r.name}].running", "change": "changed", "before": r.running,
         "after": start}
        for r in sorted(wrong, key=lambda r: r.name)
    ]  # fmt: skip
    return Change(
        address=f"recipes.{target.address}",
        kind="recipes",
        action=verb,
        manifest="",
        target=target.address,
        wave=target.wave,
        reasons=tuple(reasons),
        details=tuple(details),
        depends_on=tuple(after or ()),
        data=_data(target),
    )


def _reason(recipe: LiveRecipe, start: bool) -> str:
    if not start:
        return f"recipe {recipe.name} is running (recipes: stopped)"
    why = f" ({recipe.stop_cause})" if recipe.stop_cause else ""
    return f"recipe {recipe.name} is not running{why} (recipes: running)"


def _data(target: TargetSpec) -> dict[str, Any]:
    return {
        "target": target.address,
        "workspace": target.workspace,
        "customer": target.customer,
        "folder_id": target.folder_id,
        "manifests": list(target.manifests),
        "recipes": target.recipes,
    }

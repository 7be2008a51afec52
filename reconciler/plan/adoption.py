"""Adopting imports: what `rlcm adopt import.NAME@TARGET` would record, and why. No I/O.

A target that already runs a manifest's current package (imported by hand or by a
script before rlcm) needs no import: rlcm reads its recipes once (the Recipes API),
checks that the package's recipes are there by name, and records the package as a
completed import and the recipes as the target's baseline, as if it had imported it.
Recipes of the folder that no package of the target holds are reported (the folder may
hold the customer's own); a recipe of the package that the folder lacks is a mismatch:
not adopted unless forced, and the plan then shows the import with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

from reconciler.config.desired import DesiredState
from reconciler.errors import PlanError
from reconciler.live import LiveRecipe
from reconciler.live.recipes import recipe_folders, recipe_stamp
from reconciler.plan import Change, Plan
from reconciler.state.model import (
    AssetStamp,
    ImportRecord,
    PackageRecord,
    ResolvedTarget,
    State,
    TargetBaseline,
    import_key,
)

__all__ = [
    "Adoption",
    "AdoptionPlan",
    "Verdict",
    "adoption_plan",
    "select_imports",
]

Verdict = Literal["adopt", "mismatch", "forced", "no_package"]


@dataclass(frozen=True)
class Adoption:
    """One import that adoption looked at, and what it found."""

    address: str
    manifest: str
    target: str
    verdict: Verdict
    package_id: int | None = None
    package_digest: str | None = None
    found: tuple[str, ...] = ()  # the package's recipes, found in the folder by name
    missing: tuple[str, ...] = ()  # the package's recipes the folder lacks
    extra: tuple[str, ...] = ()  # recipes of the folder no package of the target holds
    reason: str = ""

    @property
    def recorded(self) -> bool:
        return self.verdict in ("adopt", "forced")

    def sentence(self) -> str:
        """One line for a reviewer."""
        if self.verdict == "no_package":
            return f"{self.address}: not adopted: {self.reason}"
        found = ", ".join(self.found) or "none"
        text = f"{self.address}: package {self.package_id}; recipes found: {found}"
        if self.missing:
            what = "adopted anyway (--force)" if self.verdict == "forced" else "not adopted"
            text = f"{self.address}: {what}: {self.reason}"
        if self.extra:
            text += f"; other recipes in the folder: {', '.join(self.extra)}"
        return text


@dataclass(frozen=True)
class AdoptionPlan:
    """What adopting would do; `records` and `notes` are written only when confirmed."""

    items: tuple[Adoption, ...]
    records: Mapping[str, ImportRecord] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)  # key -> why not adopted
    targets: Mapping[str, ResolvedTarget] = field(default_factory=dict)  # resolved, to cache
    baselines: Mapping[str, TargetBaseline] = field(default_factory=dict)  # target -> read

    @property
    def adopted(self) -> list[Adoption]:
        return [i for i in self.items if i.recorded]

    @property
    def refused(self) -> list[Adoption]:
        return [i for i in self.items if not i.recorded]

    def summary(self) -> str:
        line = f"Adopt: {len(self.adopted)} of {len(self.items)} imports to record"
        if self.refused:
            line += f", {len(self.refused)} not adopted"
        return line + "; nothing is imported."


def select_imports(
    plan: Plan,
    desired: DesiredState,
    state: State,
    addresses: Sequence[str],
    patterns: Sequence[str],
) -> list[Change]:
    """The never-imported imports of the plan that were named or match a glob (over the
    import address or the target address); every one when neither is given."""
    firsts = {
        c.address: c
        for c in plan.changes
        if c.kind == "import" and c.action == "import" and c.data.get("first_import")
    }
    chosen: dict[str, Change] = {}
    for address in addresses:
        chosen[address] = _named(address, firsts, desired, state)
    for pattern in patterns:
        matched = [
            c
            for a, c in firsts.items()
            if fnmatchcase(a, pattern) or fnmatchcase(c.target or "", pattern)
        ]
        if not matched:
            raise PlanError(f"--target {pattern}: matches no never-imported import")
        chosen.update((c.address, c) for c in matched)
    if not addresses and not patterns:
        chosen = dict(firsts)
    return [c for a, c in firsts.items() if a in chosen]


def _named(
    address: str, firsts: Mapping[str, Change], desired: DesiredState, state: State
) -> Change:
    if address in firsts:
        return firsts[address]
    if not address.startswith("import.") or "@" not in address:
        raise PlanError(f"{address}: expected import.NAME@TARGET (or manifest.NAME ID)")
    name, _, target = address.removeprefix("import.").partition("@")
    if state.last_import(name, target) is not None:
        raise PlanError(
            f"{address} is recorded already; run `rlcm state rm {address}` first to adopt again"
        )
    spec = desired.targets.get(target)
    if spec is None:
        raise PlanError(f"{address}: no target {target!r} in the config")
    raise PlanError(f"{address}: target {target} does not list manifest {name!r}")


def recipe_paths(changes: Iterable[Change], state: State) -> tuple[str, ...]:
    """The subfolder paths (below the target folder) that the packages put recipes in."""
    paths = {
        s.folder
        for c in changes
        if (package := state.packages.get(c.manifest)) is not None
        for s in package.asset_versions
        if s.type == "recipe" and s.folder
    }
    return tuple(sorted(paths))


def adoption_plan(
    changes: Iterable[Change],
    state: State,
    folders: Mapping[str, Sequence[LiveRecipe]],
    *,
    force: bool,
    now: str,
) -> AdoptionPlan:
    """Check each import against its target's recipes (`folders`: target -> recipes)."""
    changes = list(changes)
    by_target: dict[str, list[Change]] = {}
    for change in changes:
        by_target.setdefault(change.target or "", []).append(change)
    items: list[Adoption] = []
    records: dict[str, ImportRecord] = {}
    notes: dict[str, str] = {}
    targets: dict[str, ResolvedTarget] = {}
    baselines: dict[str, TargetBaseline] = {}
    for change in changes:
        target = change.target or ""
        package = _current_package(change, state)
        key = import_key(change.manifest, target)
        if package is None:
            reason = _no_package_reason(change)
            items.append(
                Adoption(change.address, change.manifest, target, "no_package", reason=reason)
            )
            continue
        if not change.data.get("folder_id"):
            reason = f"its folder {change.data.get('folder_path')} does not exist yet"
            items.append(
                Adoption(change.address, change.manifest, target, "no_package", reason=reason)
            )
            notes[key] = reason
            continue
        recipes = folders.get(target, ())
        others = _other_recipes(by_target[target], change, state)
        item = _check(change, package, recipes, others, force)
        items.append(item)
        if item.recorded:
            records[key] = _record(change, package, now)
            baselines[target] = _baseline(change, baselines.get(target), state, recipes, now)
            resolved = _resolved(change)
            if resolved is not None:
                targets[target] = resolved
        else:
            notes[key] = item.reason
    return AdoptionPlan(tuple(items), records, notes, targets, baselines)


def _baseline(
    change: Change,
    so_far: TargetBaseline | None,
    state: State,
    recipes: Sequence[LiveRecipe],
    now: str,
) -> TargetBaseline:
    """The target's recipes as adopt read them: the baseline of its adopted imports (id 0)."""
    target = change.target or ""
    old = so_far or state.baselines.get(target)
    return TargetBaseline(
        target=target,
        imports={**(old.imports if old is not None else {}), change.manifest: 0},
        read_at=now,
        folders=recipe_folders(recipes, int(change.data["folder_id"])),
        recipes=[recipe_stamp(r) for r in recipes],
    )


def _resolved(change: Change) -> ResolvedTarget | None:
    """A target resolved from Workato (path, environment, generated fleet), as state keeps it."""
    data = change.data
    if data.get("folder_path") is None and not data.get("environment") and not data.get("fleet"):
        return None
    return ResolvedTarget(
        workspace=data["workspace"],
        customer=data.get("customer"),
        folder_path=data.get("folder_path"),
        folder_id=int(data["folder_id"]),
        fleet=data.get("fleet"),
    )


def _current_package(change: Change, state: State) -> PackageRecord | None:
    """The package the target should run: recorded, completed, and no export planned."""
    current = change.data.get("package")
    package = state.packages.get(change.manifest)
    if not current or package is None or package.status != "completed" or not package.digest:
        return None
    return package if package.package_id == current.get("id") else None


def _no_package_reason(change: Change) -> str:
    planned = next((d for d in change.depends_on if d.startswith("export.")), None)
    if planned is not None:
        return (
            f"{planned} is planned, so there is no current package to compare with; "
            f"run `rlcm apply --target {planned}` first"
        )
    return f"manifest {change.manifest} has no exported package yet"


def _recipes(stamps: Iterable[AssetStamp]) -> list[str]:
    return sorted({s.name for s in stamps if s.type == "recipe"})


def _other_recipes(chain: Sequence[Change], change: Change, state: State) -> set[str]:
    """Recipes of the target's other manifests' packages (not "extra" for this one)."""
    names: set[str] = set()
    for other in chain:
        package = state.packages.get(other.manifest)
        if other is not change and package is not None:
            names.update(_recipes(package.asset_versions))
    return names


def _check(
    change: Change,
    package: PackageRecord,
    recipes: Sequence[LiveRecipe],
    others: set[str],
    force: bool,
) -> Adoption:
    wanted = _recipes(package.asset_versions)
    present = {r.name for r in recipes}
    missing = tuple(n for n in wanted if n not in present)
    extra = tuple(sorted(present - set(wanted) - others))
    verdict: Verdict = "adopt" if not missing else ("forced" if force else "mismatch")
    reason = ""
    if missing:
        folder_id = change.data.get("folder_id")
        reason = (
            f"package {package.package_id} has recipes the target folder {folder_id} lacks: "
            f"{', '.join(missing)}"
        )
        if verdict == "mismatch":
            reason += " (import it, or adopt with --force)"
    return Adoption(
        change.address,
        change.manifest,
        change.target or "",
        verdict,
        package_id=package.package_id,
        package_digest=package.digest,
        found=tuple(n for n in wanted if n in present),
        missing=missing,
        extra=extra,
        reason=reason,
    )


def _record(change: Change, package: PackageRecord, now: str) -> ImportRecord:
    return ImportRecord(
        manifest=change.manifest,
        target=change.target or "",
        import_id=0,  # no import ran: `adopted` says so
        package_id=package.package_id,
        package_digest=package.digest or "",
        status="completed",
        started_at=now,
        finished_at=now,
        adopted=True,
    )

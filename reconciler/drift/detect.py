"""Drift: how live moved away from what rlcm last applied. Read-only and pure.

Unlike the planner, drift compares live with the *state* (what was last sent and
imported), not with the config, and never raises for an unresolvable reference: a
source asset that vanished is itself a finding.

Targets are compared with their baseline (`State.baselines`): their recipes as the Recipes
API shows them (versions, and health: a recipe stopped since the last apply, with
Workato's stop cause, and jobs that failed since), and their other assets as folder_assets
shows them. A baseline of other assets that was never read (after an import, or in a state
migrated without one) is not a finding: `missing_asset_baselines` names what the command
records now, and the report says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from reconciler.config.desired import DesiredState, TargetSpec
from reconciler.errors import PlanError
from reconciler.live import MANIFEST_GONE, LiveAsset, LiveRecipe, LiveState, asset_key
from reconciler.live.recipes import health_row
from reconciler.plan.compare import (
    Diff,
    live_edit_diffs,
    live_versions,
    package_diffs,
    recipe_versions,
    target_diffs,
)
from reconciler.plan.imports import targets_in_wave_order
from reconciler.plan.manifest_body import resolve_manifest
from reconciler.plan.rollback import pinned_by_rollback
from reconciler.state.model import AssetStamp, RecipeStamp, State, TargetBaseline, import_key

__all__ = [
    "DRIFT_FORMAT_VERSION",
    "DRIFT_KINDS",
    "DriftFinding",
    "DriftKind",
    "DriftReport",
    "detect_drift",
    "missing_asset_baselines",
]

DRIFT_FORMAT_VERSION = 1
DriftKind = Literal[
    "manifest_edited",
    "manifest_archived",
    "source_newer",
    "target_changed",
    "recipe_stopped",
    "jobs_failed",
    "running_state",
    "never_imported",
]
# Order of the report, and how a reviewer reads each class.
DRIFT_KINDS: dict[DriftKind, str] = {
    "manifest_archived": "manifest archived or gone",
    "manifest_edited": "manifest edited in the UI",
    "source_newer": "source assets changed since the last package",
    "target_changed": "target folder changed since the last import",
    "recipe_stopped": "recipe stopped since the last apply",
    "jobs_failed": "failed jobs since the last apply",
    "running_state": "recipe not in its declared running state",
    "never_imported": "never imported",
}


@dataclass(frozen=True, slots=True)
class DriftFinding:
    kind: DriftKind
    address: str  # manifest.NAME, export.NAME or import.NAME@TARGET
    manifest: str
    message: str
    target: str | None = None
    details: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": self.address,
            "manifest": self.manifest,
            "target": self.target,
            "message": self.message,
            "details": [dict(d) for d in self.details],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DriftFinding:
        if raw.get("kind") not in DRIFT_KINDS:
            raise PlanError(f"drift report: unknown finding kind {raw.get('kind')!r}")
        return cls(
            kind=cast(DriftKind, raw["kind"]),
            address=str(raw["address"]),
            manifest=str(raw["manifest"]),
            message=str(raw["message"]),
            target=raw.get("target"),
            details=tuple(dict(d) for d in raw.get("details", ())),
        )


@dataclass(frozen=True, slots=True)
class DriftReport:
    findings: tuple[DriftFinding, ...]
    refreshed_targets: bool
    state_serial: int
    live_fingerprint: str
    notes: tuple[str, ...] = field(default=())
    # target -> its imported recipes' health as read now (Recipes API), as in plans
    recipe_health: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)

    @property
    def has_drift(self) -> bool:
        return bool(self.findings)

    def counts(self) -> dict[DriftKind, int]:
        """Findings per kind, in report order, only kinds that occur."""
        seen = Counter(f.kind for f in self.findings)
        return {k: seen[k] for k in DRIFT_KINDS if seen[k]}

    def summary_line(self) -> str:
        if not self.findings:
            return "No drift."
        parts = [f"{DRIFT_KINDS[k]}: {n}" for k, n in self.counts().items()]
        count = len(self.findings)
        noun = "finding" if count == 1 else "findings"
        return f"Drift: {count} {noun} ({', '.join(parts)})."

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "rlcm-drift",
            "format_version": DRIFT_FORMAT_VERSION,
            "state_serial": self.state_serial,
            "live_fingerprint": self.live_fingerprint,
            "refreshed_targets": self.refreshed_targets,
            "notes": list(self.notes),
            "counts": self.counts(),
            "summary": self.summary_line(),
            "findings": [f.to_dict() for f in self.findings],
            "recipe_health": {t: [dict(r) for r in rows] for t, rows in self.recipe_health.items()},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DriftReport:
        if raw.get("kind") != "rlcm-drift" or raw.get("format_version") != DRIFT_FORMAT_VERSION:
            raise PlanError("not an rlcm drift report of a known format_version")
        return cls(
            findings=tuple(DriftFinding.from_dict(f) for f in raw["findings"]),
            refreshed_targets=bool(raw["refreshed_targets"]),
            state_serial=int(raw["state_serial"]),
            live_fingerprint=str(raw["live_fingerprint"]),
            notes=tuple(raw.get("notes", ())),
            recipe_health={
                str(t): tuple(dict(r) for r in rows)
                for t, rows in (raw.get("recipe_health") or {}).items()
            },
        )


def detect_drift(desired: DesiredState, state: State, live: LiveState) -> DriftReport:
    """Every way live differs from what state says was last applied."""
    findings: list[DriftFinding] = []
    notes: list[str] = []
    for name in desired.manifest_order():
        findings += _manifest_findings(name, state, live)
        findings += _source_findings(name, desired, state, live)
    findings += _target_findings(desired, state, live)
    if not live.refreshed_targets:
        notes.append("target folders were not refreshed: target folder drift is not checked")
    missing = missing_asset_baselines(desired, state, live)
    if missing:
        notes.append(
            f"{len(missing)} target(s) had no baseline of their assets other than recipes "
            "(connections, lookup tables...): it is recorded now, and their changes are "
            "checked from the next drift on"
        )
    notes += [pending.warning() for _, pending in sorted(state.pending.items())]
    return DriftReport(
        findings=tuple(sorted(findings, key=_order())),
        refreshed_targets=live.refreshed_targets,
        state_serial=state.serial,
        live_fingerprint=live.fingerprint(),
        notes=tuple(notes),
        recipe_health=_recipe_health(desired, state, live),
    )


def _recipe_health(
    desired: DesiredState, state: State, live: LiveState
) -> dict[str, tuple[dict[str, object], ...]]:
    keys = _package_keys(state)
    found: dict[str, tuple[dict[str, object], ...]] = {}
    for address, recipes in (live.target_recipes or {}).items():
        target = desired.targets.get(address)
        if target is None:
            continue
        wanted = {k for m in target.manifests for k in keys.get(m, ())}
        rows = tuple(health_row(r) for r in recipes if r.key in wanted)
        if rows:
            found[address] = rows
    return found


def _order() -> Any:
    rank = {k: i for i, k in enumerate(DRIFT_KINDS)}
    # Stable sort: within a kind, findings keep manifest and wave order.
    return lambda f: rank[f.kind]


def _manifest_findings(name: str, state: State, live: LiveState) -> list[DriftFinding]:
    record, view = state.manifests.get(name), live.manifests.get(name)
    if record is None or view is None:
        return []
    address = f"manifest.{name}"
    if not view.exists:
        how = "no longer exists (404)" if view.status == MANIFEST_GONE else "was archived"
        return [
            DriftFinding("manifest_archived", address, name, f"live manifest {record.id} {how}")
        ]
    edits = live_edit_diffs(record, view)
    if not edits:
        return []
    message = "edited in the Workato UI: " + _join(edits)
    return [DriftFinding("manifest_edited", address, name, message, None, _details(edits))]


def _source_findings(
    name: str, desired: DesiredState, state: State, live: LiveState
) -> list[DriftFinding]:
    package = state.packages.get(name)
    if package is None or package.status != "completed":
        return []
    address = f"export.{name}"
    problems: list[str] = []
    spec = pinned_by_rollback(desired.manifests[name], state.manifests.get(name))
    resolved = resolve_manifest(spec, live, problems)
    if resolved is None:
        return [DriftFinding("source_newer", address, name, p) for p in problems]
    diffs = package_diffs(package.asset_versions, resolved)
    if not diffs:
        return []
    message = f"since package {package.package_id}: " + _join(diffs)
    return [DriftFinding("source_newer", address, name, message, None, _details(diffs))]


def _target_findings(desired: DesiredState, state: State, live: LiveState) -> list[DriftFinding]:
    findings: list[DriftFinding] = []
    keys = _package_keys(state)
    for target in targets_in_wave_order(desired):
        for name in target.manifests:
            record = state.imports.get(import_key(name, target.address))
            address = f"import.{name}@{target.address}"
            if record is None:
                findings.append(
                    DriftFinding("never_imported", address, name, "never imported", target.address)
                )
                continue
            baseline = state.baseline_of(record)
            if baseline is None or record.status != "completed":
                continue
            wanted = keys.get(name) or {asset_key("recipe", r.name) for r in baseline.recipes}
            findings += _changed(target, name, record.import_id, baseline, live, wanted)
            findings += _health(target, name, baseline, live, wanted)
    return findings


def _changed(
    target: TargetSpec,
    name: str,
    import_id: int,
    baseline: TargetBaseline,
    live: LiveState,
    wanted: set[str],
) -> list[DriftFinding]:
    diffs: list[Diff] = []
    recipes = (live.target_recipes or {}).get(target.address)
    if recipes is not None:
        diffs += target_diffs(recipe_versions(baseline.recipes), recipe_versions(recipes), wanted)
    assets = (live.target_folders or {}).get(target.address)
    if assets is not None and baseline.assets is not None:
        others = {k for k in wanted if not k.startswith("recipe:")}
        now = live_versions(a for a in assets if a.type != "recipe")
        diffs += target_diffs(_stamp_versions(baseline.assets), now, others)
    if not diffs:
        return []
    message = f"since import {import_id}: " + _join(diffs)
    address = f"import.{name}@{target.address}"
    return [DriftFinding("target_changed", address, name, message, target.address, _details(diffs))]


def _health(
    target: TargetSpec, name: str, baseline: TargetBaseline, live: LiveState, wanted: set[str]
) -> list[DriftFinding]:
    """Each of the manifest's recipes that stopped since the baseline read (with Workato's
    stop cause), and each that failed jobs since then."""
    recipes = (live.target_recipes or {}).get(target.address)
    if recipes is None:
        return []
    before = {r.id: r for r in baseline.recipes}
    address = f"import.{name}@{target.address}"
    found: list[DriftFinding] = []
    for recipe in sorted(recipes, key=lambda r: r.name):
        declared = target.recipes != "unchanged" and recipe.key in wanted
        if declared and recipe.running != (target.recipes == "running"):
            found.append(_declared(address, name, target, recipe))
        old = before.get(recipe.id)
        if old is None or recipe.key not in wanted:
            continue
        if old.running and not recipe.running:
            found.append(_stopped(address, name, target.address, recipe))
        failed = recipe.job_failed_count - (old.job_failed_count or 0)
        if old.job_failed_count is not None and failed > 0:
            found.append(_failed(address, name, target.address, old, recipe, failed))
    return found


def _stopped(address: str, name: str, target: str, recipe: LiveRecipe) -> DriftFinding:
    cause = recipe.stop_cause or "stopped by a user"
    when = f" at {recipe.stopped_at}" if recipe.stopped_at else ""
    message = f"recipe {recipe.name} stopped{when} ({cause}); it was running after the last apply"
    detail = {
        "path": f"recipe[{recipe.name}].running",
        "change": "changed",
        "before": True,
        "after": False,
        "recipe_id": recipe.id,
        "stop_cause": recipe.stop_cause,
        "stopped_at": recipe.stopped_at,
    }
    return DriftFinding("recipe_stopped", address, name, message, target, (detail,))


def _declared(address: str, name: str, target: TargetSpec, recipe: LiveRecipe) -> DriftFinding:
    """A recipe that should run and does not (or the other way round)."""
    if target.recipes == "running":
        why = f" ({recipe.stop_cause})" if recipe.stop_cause else ""
        message = f"recipe {recipe.name} should run (recipes: running) and does not{why}"
    else:
        message = f"recipe {recipe.name} should be stopped (recipes: stopped) and runs"
    detail = {
        "path": f"recipe[{recipe.name}].running",
        "change": "changed",
        "before": target.recipes == "running",
        "after": recipe.running,
        "recipe_id": recipe.id,
        "stop_cause": recipe.stop_cause,
    }
    return DriftFinding("running_state", address, name, message, target.address, (detail,))


def _failed(
    address: str, name: str, target: str, old: RecipeStamp, recipe: LiveRecipe, failed: int
) -> DriftFinding:
    jobs = "job" if failed == 1 else "jobs"
    message = (
        f"recipe {recipe.name}: {failed} failed {jobs} since the last apply "
        f"(job_failed_count {old.job_failed_count} -> {recipe.job_failed_count})"
    )
    detail = {
        "path": f"recipe[{recipe.name}].job_failed_count",
        "change": "changed",
        "before": old.job_failed_count,
        "after": recipe.job_failed_count,
        "recipe_id": recipe.id,
        "last_run_at": recipe.last_run_at,
    }
    return DriftFinding("jobs_failed", address, name, message, target, (detail,))


def missing_asset_baselines(
    desired: DesiredState, state: State, live: LiveState
) -> dict[str, list[AssetStamp]]:
    """Targets whose baseline has no other assets yet, and what to record for them: their
    folder's non-recipe assets as read now."""
    folders = live.target_folders or {}
    return {
        address: _asset_stamps(folders[address])
        for address, baseline in state.baselines.items()
        if baseline.assets is None and address in folders and address in desired.targets
    }


def _asset_stamps(assets: tuple[LiveAsset, ...]) -> list[AssetStamp]:
    return [
        AssetStamp(type=a.type, name=a.name, version=a.version, id=a.id, folder=a.folder)
        for a in assets
        if a.type != "recipe"
    ]


def _stamp_versions(stamps: list[AssetStamp]) -> dict[str, int | None]:
    return {asset_key(s.type, s.name): s.version for s in stamps}


def _package_keys(state: State) -> dict[str, set[str]]:
    return {
        name: {asset_key(s.type, s.name) for s in p.asset_versions}
        for name, p in state.packages.items()
    }


def _join(diffs: list[Diff]) -> str:
    return "; ".join(d.sentence for d in diffs)


def _details(diffs: list[Diff]) -> tuple[dict[str, Any], ...]:
    return tuple(d.detail for d in diffs)

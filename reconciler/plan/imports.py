"""The per-target part of planning: which imports each target needs, and why.

This loop runs once per target and manifest (30,000 times for 10,000 targets of three
manifests), so everything that depends only on the manifest is computed beforehand in
`ManifestFacts`, and the loop does dictionary lookups and small comparisons only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.config.desired import DesiredState, TargetSpec
from reconciler.facts import IMPORT_RESULT_SUCCESSES
from reconciler.live import LiveState, asset_key
from reconciler.plan import Change
from reconciler.plan.compare import recipe_versions, target_diffs
from reconciler.plan.manifest_body import ResolvedManifest
from reconciler.state.model import ImportRecord, PackageRecord, State, import_key

__all__ = [
    "SUCCESS_RESULTS",
    "ManifestFacts",
    "failed_import_reason",
    "import_changes",
    "prune_imports",
    "targets_in_wave_order",
    "transitive_deps",
]

SUCCESS_RESULTS = IMPORT_RESULT_SUCCESSES  # both spellings; see reconciler/facts.py


@dataclass(frozen=True, slots=True)
class ManifestFacts:
    """What every target's import of one manifest is compared against."""

    name: str
    export_address: str | None  # set when an export is planned: the package changes
    package: Mapping[str, Any] | None  # {"id", "digest"} of the current package, if no export
    package_keys: frozenset[str]  # type:name of the assets the package holds
    deps: tuple[str, ...]  # depends_on manifests, transitively

    @classmethod
    def build(
        cls,
        manifest: ResolvedManifest,
        package: PackageRecord | None,
        export: Change | None,
        deps: Sequence[str] = (),
    ) -> ManifestFacts:
        current = None
        if export is None and package is not None:
            current = {"id": package.package_id, "digest": package.digest}
        keys = {asset_key(s.type, s.name) for s in package.asset_versions} if package else set()
        return cls(
            name=manifest.name,
            export_address=export.address if export else None,
            package=current,
            package_keys=frozenset(keys | set(manifest.expected)),
            deps=tuple(deps),
        )


def transitive_deps(desired: DesiredState, name: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    todo = list(desired.manifests[name].depends_on)
    while todo:
        dep = todo.pop()
        if dep not in found and dep in desired.manifests:
            found[dep] = None
            todo += desired.manifests[dep].depends_on
    return tuple(found)


def targets_in_wave_order(desired: DesiredState) -> list[TargetSpec]:
    """Targets in wave order, then in config order (waves not in the rollout last)."""
    order = {w: i for i, w in enumerate(desired.rollout.waves)}
    targets = list(desired.targets.values())
    return sorted(targets, key=lambda t: (order.get(t.wave, len(order)), t.wave))


def import_changes(
    desired: DesiredState,
    state: State,
    live: LiveState,
    facts: Mapping[str, ManifestFacts],
) -> list[Change]:
    changes: list[Change] = []
    refreshed = live.target_recipes
    for target in targets_in_wave_order(desired):
        recipes = refreshed.get(target.address) if refreshed is not None else None
        now = None if recipes is None else recipe_versions(recipes)
        baseline = state.baselines.get(target.address)
        planned: dict[str, str] = {}
        for name in target.manifests:
            fact = facts[name]
            key = import_key(name, target.address)
            record = state.imports.get(key)
            note = state.unadopted.get(key) if record is None else None
            before = None
            if now is not None and baseline is not None and record is not None:
                before = recipe_versions(baseline.recipes) if baseline.covers(record) else None
            change = _import_change(target, fact, record, (before, now), planned, note)
            if change is not None:
                planned[name] = change.address
                changes.append(change)
    return changes


# (the target's recipes in its baseline, as they are now): recipe:name -> version maps,
# None when there is no baseline for this import or the target was not read
Versions = tuple[Mapping[str, int | None] | None, Mapping[str, int | None] | None]


def _import_change(
    target: TargetSpec,
    fact: ManifestFacts,
    record: ImportRecord | None,
    versions: Versions,
    planned: Mapping[str, str],
    unadopted: str | None = None,
) -> Change | None:
    details: list[dict[str, Any]] = []
    reasons, resume, poll_only = _import_reasons(fact, record, versions, details)
    if unadopted is not None:
        reasons.append(f"`rlcm adopt` did not adopt it: {unadopted}")
    if record is None and target.fleet is not None:
        reasons.append(f"customer {target.customer} appeared in Workato (fleet {target.fleet})")
    if target.folder_path is not None and not target.folder_id:
        reasons.append(
            f"folder {target.folder_path} does not exist in {target.customer} yet: "
            "apply creates it (create_folders)"
        )
    if not reasons:
        return None
    depends = [fact.export_address] if fact.export_address else []
    depends += [planned[d] for d in fact.deps if d in planned]
    data = {
        "manifest": fact.name,
        "target": target.address,
        "workspace": target.workspace,
        "customer": target.customer,
        "folder_id": target.folder_id,
        "restart_recipes": target.restart_recipes,
        "include_tags": target.include_tags,
        "folder_id_for_home_assets": target.folder_id_for_home_assets,
        "package": None if fact.export_address else fact.package,
        "resume_import_id": resume,
        "poll_only": poll_only,
        "first_import": record is None,
    }
    if target.folder_path is not None or target.fleet is not None or target.environment:
        # only then: plans of configs without paths, fleets or environments stay as they were
        data.update(
            folder_path=target.folder_path,
            create_folders=target.create_folders,
            fleet=target.fleet,
            environment=target.environment,
        )
    return Change(
        address=f"import.{fact.name}@{target.address}",
        kind="import",
        action="import",
        manifest=fact.name,
        target=target.address,
        wave=target.wave,
        reasons=tuple(reasons),
        details=tuple(details),
        depends_on=tuple(depends),
        data=data,
    )


def _import_reasons(
    fact: ManifestFacts,
    record: ImportRecord | None,
    versions: Versions,
    details: list[dict[str, Any]],
) -> tuple[list[str], int | None, bool]:
    """Reasons for an import, an in-progress import to poll first, and whether polling it is
    all there is to do."""
    if record is None:
        return ["never imported"], None, False
    current = fact.package
    same_package = current is not None and record.package_digest == current["digest"]
    if record.status == "in_progress":
        if same_package:
            msg = f"import {record.import_id} in progress: will be polled, not sent again"
            return [msg], record.import_id, True
        # Never send a second import into a folder while one is running there.
        first = f"import {record.import_id} in progress is for an older package: polled first"
        return [first, _package_reason(fact, record)], record.import_id, False
    reasons: list[str] = []
    if record.status == "failed":
        reasons.append(failed_import_reason(record))
    if fact.export_address is not None or not same_package:
        reasons.append(_package_reason(fact, record))
    before, now = versions
    if before is not None and now is not None and record.status == "completed":
        diffs = target_diffs(before, now, fact.package_keys)
        if diffs:
            sentences = "; ".join(d.sentence for d in diffs)
            reasons.append(f"the target folder changed since the last import: {sentences}")
            details += [d.detail for d in diffs]
    return reasons, None, False


def _package_reason(fact: ManifestFacts, record: ImportRecord) -> str:
    if fact.export_address is not None or fact.package is None:
        return f"the package changes: {fact.export_address} is planned"
    return (
        f"the target has package {record.package_id}, the current package is {fact.package['id']}"
    )


def failed_import_reason(record: ImportRecord) -> str:
    failing = [
        f"{r.label} ({r.import_result})"
        for r in record.recipe_results
        if r.import_result not in SUCCESS_RESULTS
    ]
    why = record.error or "no reason given"
    recipes = f"; failing recipes: {', '.join(failing)}" if failing else ""
    return f"the last import {record.import_id} failed: {why}{recipes}"


def prune_imports(desired: DesiredState, state: State) -> list[Change]:
    """Forget import records of targets or manifests no longer configured.

    Workato cannot un-import: the assets stay in the target folder; only rlcm's record
    of them goes, so a later config that adds them back starts from "never imported".
    """
    changes: list[Change] = []
    for key in sorted(state.imports):
        record = state.imports[key]
        target = desired.targets.get(record.target)
        if record.manifest not in desired.manifests:
            why = f"manifest {record.manifest} is no longer in the config"
        elif target is None:
            why = f"target {record.target} is no longer in the config"
        elif record.manifest not in target.manifests:
            why = f"target {record.target} no longer lists manifest {record.manifest}"
        else:
            continue
        reason = f"{why}: the state record is forgotten (assets stay in the target folder)"
        changes.append(
            Change(
                address=f"import.{key}",
                kind="import",
                action="forget",
                manifest=record.manifest,
                target=record.target,
                reasons=(reason,),
                data={"manifest": record.manifest, "target": record.target},
            )
        )
    return changes

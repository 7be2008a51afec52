"""(desired, state, live) -> Plan. Pure: no I/O, no client, no clock.

The work that does not depend on the target (resolving assets, deciding manifests and
exports) is done once per manifest; the per-target loop (planner_imports.py) only looks
up precomputed facts, so a plan for tens of thousands of targets stays cheap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from reconciler.config.desired import DesiredState
from reconciler.errors import PlanError
from reconciler.live import MANIFEST_GONE, LiveState, asset_key
from reconciler.live.recipes import health_row
from reconciler.live.refresh import refresh_reads
from reconciler.plan import Action, Change, Plan, with_dependencies
from reconciler.plan.compare import Diff, live_edit_diffs, package_diffs, spec_diffs
from reconciler.plan.estimate import estimate_apply
from reconciler.plan.imports import (
    ManifestFacts,
    import_changes,
    prune_imports,
    transitive_deps,
)
from reconciler.plan.manifest_body import ResolvedManifest, digest, resolve_manifests
from reconciler.plan.recipes import recipe_changes
from reconciler.state.model import PackageRecord, State

__all__ = ["build_plan", "config_digest", "first_apply_note", "plan_lineage"]


def plan_lineage(state: State) -> str:
    """The state history a plan is made against; "" before the first write.

    A state never written (serial 0) gets a random lineage each time it is read: it
    identifies nothing, and recording it would make plans of a fresh setup differ from
    run to run and a saved first plan always look stale.
    """
    return state.lineage if state.serial else ""


def build_plan(
    desired: DesiredState,
    state: State,
    live: LiveState,
    *,
    prune: bool = False,
    targets: Sequence[str] = (),
    rollback_to: int | None = None,
) -> Plan:
    """Every change that makes live match the config, in execution order.

    Raises PlanError when an asset reference cannot be resolved (all of them, at once).
    `targets` are fnmatch globs over addresses; the plan keeps the matching changes and
    everything they depend on. `rollback_to`: `desired` is the rollback of rollback.py to
    that serial; the manifests it updates are recorded as pinned by it.
    """
    warnings: list[str] = []
    resolved = resolve_manifests(desired, live, warnings)
    manifests: list[Change] = []
    exports: list[Change] = []
    facts: dict[str, ManifestFacts] = {}
    for name, manifest in resolved.items():
        change = _manifest_change(manifest, desired, state, live, warnings)
        if change is not None and rollback_to is not None:
            change = dataclasses.replace(
                change, data={**change.data, "rollback_serial": rollback_to}
            )
        export = _export_change(manifest, state, change)
        manifests += [change] if change else []
        exports += [export] if export else []
        deps = transitive_deps(desired, name)
        facts[name] = ManifestFacts.build(manifest, state.packages.get(name), export, deps)
    unconfigured = _prune_manifests(desired, state, live) + prune_imports(desired, state)
    if prune:
        manifests += [c for c in unconfigured if c.kind == "manifest"]
    elif unconfigured:
        warnings.append(_unpruned_warning(unconfigured))
    imports = import_changes(desired, state, live, facts)
    starts = recipe_changes(desired, live, facts, imports)
    if prune:
        imports += [c for c in unconfigured if c.kind == "import"]
    changes = manifests + exports + imports + starts
    if targets:
        _check_patterns(desired, state, targets)
        changes = _narrow(changes, targets, warnings)
    # `rlcm apply` refreshes again before its first step: the same reads
    estimate = estimate_apply(desired, changes, state.quotas, refresh_reads(desired, state, live))
    return Plan(
        changes=tuple(changes),
        waves=desired.rollout.waves,
        state_serial=state.serial,
        state_lineage=plan_lineage(state),
        live_fingerprint=live.fingerprint(),
        config_digest=config_digest(desired),
        refreshed_targets=live.refreshed_targets,
        warnings=tuple(warnings),
        estimate=None if estimate is None else estimate.to_dict(),
        recipe_health=_recipe_health(desired, live, facts),
        rollback_to=rollback_to,
    )


def _recipe_health(
    desired: DesiredState, live: LiveState, facts: Mapping[str, ManifestFacts]
) -> dict[str, tuple[dict[str, object], ...]]:
    """Each refreshed target's recipes that its packages hold, with their health."""
    found: dict[str, tuple[dict[str, object], ...]] = {}
    for address, recipes in (live.target_recipes or {}).items():
        target = desired.targets.get(address)
        if target is None:
            continue
        keys = {k for m in target.manifests if m in facts for k in facts[m].package_keys}
        rows = tuple(health_row(r) for r in recipes if r.key in keys)
        if rows:
            found[address] = rows
    return found


def first_apply_note(plan: Plan, state: State) -> str | None:
    """A state never written: right for a first apply, wrong when the state file was lost
    or another one was meant (--state), and then every manifest would exist twice. No
    Workato API lists manifests, so rlcm cannot look: apply says so before creating any."""
    creates = [c.address for c in plan.changes if c.kind == "manifest" and c.action == "create"]
    if not creates or state.serial or state.manifests:
        return None
    return (
        f"no state recorded yet: {len(creates)} manifest(s) will be created anew "
        f"({', '.join(creates)}); if they already exist in the source workspace (a lost or "
        "moved state file, or --state pointing elsewhere), record each with "
        "`rlcm adopt manifest.NAME ID` instead of creating a second one"
    )


def _manifest_data(
    manifest: ResolvedManifest, desired: DesiredState, manifest_id: int | None
) -> dict[str, Any]:
    return {
        "body": dict(manifest.body),
        "spec_digest": manifest.spec_digest,
        "manifest_id": manifest_id,
        "workspace": desired.source.workspace,
        "owner": desired.source.managed_user,
    }


def _manifest_change(
    manifest: ResolvedManifest,
    desired: DesiredState,
    state: State,
    live: LiveState,
    warnings: list[str],
) -> Change | None:
    name = manifest.name
    address = f"manifest.{name}"
    record = state.manifests.get(name)
    if record is None:
        return _create_change(manifest, desired, state, warnings)
    view = live.manifests.get(name)
    data = _manifest_data(manifest, desired, record.id)
    if view is not None and not view.exists:
        how = "no longer exists (404)" if view.status == MANIFEST_GONE else "was archived"
        reason = f"live manifest {record.id} {how}: it will be created again"
        return Change(address, "manifest", "recreate", name, reasons=(reason,), data=data)
    diffs: list[Diff] = []
    reasons: list[str] = []
    if record.spec_digest != manifest.spec_digest:
        found = spec_diffs(record, manifest)
        diffs += found
        reasons.append("the config changed: " + _sentences(found, "asset details changed"))
    edits = live_edit_diffs(record, view) if view is not None else []
    if edits:
        diffs += [Diff(d.sentence, _put_back(d.detail)) for d in edits]
        reasons.append("edited in the Workato UI: " + _sentences(edits, ""))
    if not reasons:
        return None
    return Change(
        address, "manifest", "update", name, reasons=tuple(reasons),
        details=tuple(d.detail for d in diffs), data=data,
    )  # fmt: skip


def _put_back(detail: dict[str, Any]) -> dict[str, Any]:
    """A UI edit (recorded -> live) as the update applies it (live -> recorded)."""
    flipped = {**detail, "source": "live"}
    flipped.pop("before", None)
    flipped.pop("after", None)
    if "before" in detail:
        flipped["after"] = detail["before"]
    if "after" in detail:
        flipped["before"] = detail["after"]
    turned = {"added": "removed", "removed": "added"}
    flipped["change"] = turned.get(detail["change"], detail["change"])
    return flipped


def _create_change(
    manifest: ResolvedManifest, desired: DesiredState, state: State, warnings: list[str]
) -> Change:
    name = manifest.name
    address = f"manifest.{name}"
    reasons = ["not in state: a new manifest will be created"]
    pending = state.pending.get(name)
    if pending is not None:
        warnings.append(pending.warning())
        reasons.append("an earlier create was never recorded (see warnings)")
    return Change(
        address, "manifest", "create", name, reasons=tuple(reasons),
        details=_create_details(manifest), data=_manifest_data(manifest, desired, None),
    )  # fmt: skip


def _create_details(manifest: ResolvedManifest) -> tuple[dict[str, Any], ...]:
    """What a new manifest will hold, for the reviewer: its folder and each asset with the
    version the first package will carry (pinned, latest now, or picked by Workato)."""
    spec = manifest.spec
    pinned = {asset_key(a.type, a.name) for a in spec.assets or () if a.version is not None}
    how = "auto-generated" if spec.auto_generate is not None else "latest"
    details: list[dict[str, Any]] = [
        {"path": "folder_id", "change": "added", "after": spec.folder_id},
        {"path": "include_tags", "change": "added", "after": spec.include_tags},
    ]
    for key in sorted(manifest.expected):
        version = manifest.expected[key].get("version")
        detail: dict[str, Any] = {"path": f"assets[{key}]", "change": "added"}
        if version is not None:  # connections have none
            detail["after"] = f"version {version} ({'pinned' if key in pinned else how})"
        details.append(detail)
    return tuple(details)


def _sentences(diffs: Sequence[Diff], fallback: str) -> str:
    return "; ".join(d.sentence for d in diffs) or fallback


def _export_change(
    manifest: ResolvedManifest, state: State, manifest_change: Change | None
) -> Change | None:
    name = manifest.name
    package = state.packages.get(name)
    record = state.manifests.get(name)
    diffs: list[Diff] = []
    reasons = _export_reasons(manifest, package, manifest_change, diffs)
    if not reasons:
        return None
    resume = (
        package.package_id
        if package is not None and package.status == "in_progress" and len(reasons) == 1
        else None
    )
    data = {
        "manifest": name,
        "manifest_id": None if record is None or _new_id(manifest_change) else record.id,
        "spec_digest": manifest.spec_digest,
        "asset_versions": manifest.asset_versions(),
        "resume_package_id": resume,
    }
    return Change(
        f"export.{name}", "export", "export", name, reasons=tuple(reasons),
        details=tuple(d.detail for d in diffs),
        depends_on=(manifest_change.address,) if manifest_change else (),
        data=data,
    )  # fmt: skip


def _new_id(change: Change | None) -> bool:
    """Whether the live manifest id is only known once `change` is applied."""
    return change is not None and change.action in ("create", "recreate")


def _export_reasons(
    manifest: ResolvedManifest,
    package: PackageRecord | None,
    manifest_change: Change | None,
    diffs: list[Diff],
) -> list[str]:
    """Why a new package is needed; an in-progress export alone means: poll it."""
    if package is None:
        return ["no package exported yet"]
    # An update that only puts back a UI edit sends the body the package came from.
    if manifest_change is not None and (
        manifest_change.action != "update" or package.spec_digest != manifest.spec_digest
    ):
        return [f"manifest.{manifest.name} will be {manifest_change.action}d"]
    if package.status == "failed":
        return [
            f"the last export {package.package_id} failed: {package.error or 'no reason given'}"
        ]
    if package.spec_digest != manifest.spec_digest:
        return [f"the manifest changed since package {package.package_id} was exported"]
    found = package_diffs(package.asset_versions, manifest)
    diffs += found
    reasons = [d.sentence for d in found]
    if package.status == "in_progress":
        if reasons:
            return [f"export {package.package_id} in progress is out of date", *reasons]
        return [f"export {package.package_id} in progress: will be polled, not exported again"]
    return reasons


def _prune_manifests(desired: DesiredState, state: State, live: LiveState) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(state.manifests.keys() - desired.manifests.keys()):
        record = state.manifests[name]
        view = live.manifests.get(name)
        data = {
            "manifest_id": record.id,
            "workspace": record.workspace,
            "owner": record.owner,
            "forget_package": name in state.packages,
        }
        address = f"manifest.{name}"
        if view is not None and not view.exists:
            reason = f"no longer in the config and already {view.status} in Workato: forget it"
            action: Action = "forget"
        else:
            reason = f"no longer in the config: live manifest {record.id} will be deleted"
            action = "delete"
        changes.append(Change(address, "manifest", action, name, reasons=(reason,), data=data))
    return changes


def _unpruned_warning(changes: list[Change]) -> str:
    """Records in state the config no longer has: left alone without --prune; say so, and
    what --prune would do, instead of ignoring them silently."""
    deletes = sum(1 for c in changes if c.action == "delete")
    forgets = len(changes) - deletes
    listed = ", ".join(c.address for c in changes[:3]) + (", ..." if len(changes) > 3 else "")
    would = []
    if deletes:
        would.append(f"delete {_count(deletes, 'manifest')} in Workato (apply needs --force)")
    if forgets:
        would.append(f"forget {_count(forgets, 'record')} (nothing changes in Workato)")
    return (
        f"{_count(len(changes), 'state record')} no longer in the config ({listed}): left "
        f"alone; `--prune` would {' and '.join(would)}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def known_addresses(desired: DesiredState, state: State) -> list[str]:
    """Every address a change could have: of the config, and of the records in state."""
    found = [f"{kind}.{name}" for name in desired.manifests for kind in ("manifest", "export")]
    found += [f"import.{m}@{t.address}" for t in desired.targets.values() for m in t.manifests]
    found += [f"manifest.{name}" for name in state.manifests]
    found += [f"import.{key}" for key in state.imports]
    return sorted(set(found))


def _check_patterns(desired: DesiredState, state: State, patterns: Sequence[str]) -> None:
    """A --target that can match no address at all is a typo: refuse it, with the closest
    addresses, rather than plan nothing and exit 0."""
    import difflib

    known = known_addresses(desired, state)
    for pattern in patterns:
        if any(fnmatchcase(a, pattern) for a in known):
            continue
        if pattern in desired.targets or pattern in desired.manifests:  # a name, not an address
            kind = "import.*@" if pattern in desired.targets else "*."
            hint = f"; for every change of {pattern}, use --target '{kind}{pattern}'"
        else:
            close = difflib.get_close_matches(pattern, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PlanError(
            f"--target {pattern} matches no address of this config (addresses are "
            f"manifest.NAME, export.NAME, import.NAME@TARGET; globs allowed){hint}"
        )


def _narrow(changes: list[Change], patterns: Sequence[str], warnings: list[str]) -> list[Change]:
    """Keep the changes matching a pattern plus everything they depend on (transitively)."""
    matched: set[str] = set()
    for pattern in patterns:
        found = [c.address for c in changes if fnmatchcase(c.address, pattern)]
        if not found:
            warnings.append(f"--target {pattern} matches no planned change (it is up to date)")
        matched.update(found)
    keep = with_dependencies(changes, matched)
    return [c for c in changes if c.address in keep]


def config_digest(desired: DesiredState) -> str:
    """A digest of what the config asks for (positions in files excluded)."""
    manifests = {
        n: [m.folder_id, m.include_tags, list(m.depends_on), _refs(m.assets), _auto(m)]
        for n, m in desired.manifests.items()
    }
    targets = [
        [t.address, t.workspace, t.folder_id, list(t.manifests), t.customer, t.restart_recipes,
         t.include_tags, t.folder_id_for_home_assets, t.wave, t.recipes]
        for t in desired.targets.values()
    ]  # fmt: skip
    rollout = desired.rollout
    source = [desired.source.workspace, desired.source.managed_user]
    return digest(
        {
            "manifests": manifests,
            "targets": targets,
            "source": source,
            "rollout": [list(rollout.waves), rollout.max_parallel, rollout.halt_after_failures],
            "workspaces": {n: w.base_url for n, w in desired.workspaces.items()},
        }
    )


def _refs(assets: Any) -> Any:
    return None if assets is None else [[a.type, a.name, a.version] for a in assets]


def _auto(spec: Any) -> Mapping[str, bool] | None:
    auto = spec.auto_generate
    if auto is None:
        return None
    return {"include_test_cases": auto.include_test_cases, "include_data": auto.include_data}

"""Drift: how live moved away from what rlcm last applied. Read-only and pure.

Unlike the planner, drift compares live with the *state* (what was last sent and
imported), not with the config, and never raises for an unresolvable reference: a
source asset that vanished is itself a finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from reconciler.config.desired import DesiredState
from reconciler.errors import PlanError
from reconciler.live import MANIFEST_GONE, LiveState, asset_key
from reconciler.plan.compare import (
    Diff,
    folder_diffs,
    live_edit_diffs,
    live_versions,
    package_diffs,
)
from reconciler.plan.imports import targets_in_wave_order
from reconciler.plan.manifest_body import resolve_manifest
from reconciler.plan.rollback import pinned_by_rollback
from reconciler.state.model import State, import_key

__all__ = [
    "DRIFT_FORMAT_VERSION",
    "DRIFT_KINDS",
    "DriftFinding",
    "DriftKind",
    "DriftReport",
    "detect_drift",
]

DRIFT_FORMAT_VERSION = 1
DriftKind = Literal[
    "manifest_edited", "manifest_archived", "source_newer", "target_changed", "never_imported"
]
# Order of the report, and how a reviewer reads each class.
DRIFT_KINDS: dict[DriftKind, str] = {
    "manifest_archived": "manifest archived or gone",
    "manifest_edited": "manifest edited in the UI",
    "source_newer": "source assets changed since the last package",
    "target_changed": "target folder changed since the last import",
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
    notes += [pending.warning() for _, pending in sorted(state.pending.items())]
    return DriftReport(
        findings=tuple(sorted(findings, key=_order())),
        refreshed_targets=live.refreshed_targets,
        state_serial=state.serial,
        live_fingerprint=live.fingerprint(),
        notes=tuple(notes),
    )


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
    folders = live.target_folders
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
            folder = folders.get(target.address) if folders is not None else None
            if folder is None or record.folder_after is None or record.status != "completed":
                continue
            wanted = keys.get(name) or {asset_key(s.type, s.name) for s in record.folder_after}
            diffs = folder_diffs(record.folder_after, live_versions(folder), wanted)
            if diffs:
                message = f"since import {record.import_id}: " + _join(diffs)
                findings.append(
                    DriftFinding(
                        "target_changed", address, name, message, target.address, _details(diffs)
                    )
                )
    return findings


def _package_keys(state: State) -> dict[str, set[str]]:
    return {
        name: {asset_key(s.type, s.name) for s in p.asset_versions}
        for name, p in state.packages.items()
    }


def _join(diffs: list[Diff]) -> str:
    return "; ".join(d.sentence for d in diffs)


def _details(diffs: list[Diff]) -> tuple[dict[str, Any], ...]:
    return tuple(d.detail for d in diffs)

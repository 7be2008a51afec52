"""`rlcm plan --rollback-to N`: the config as it must read to bring back serial N's packages.

The state kept at serial N (state history) says, per manifest, which asset versions its
last package held, and which targets had imported it. The rollback is the current config
with each such manifest's assets pinned to exactly those versions (an `auto_generate`
manifest becomes the list of assets its package held) and each target narrowed to the
manifests it had imported by then. The ordinary planner turns that into a plan: manifest
updates that pin the versions, one export each, the imports into those targets. It is
saved, reviewed and applied exactly like any plan; the manifests it updates are recorded
as pinned by the rollback, so drift measures them against the pins.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.config.desired import AssetRef, DesiredState, ManifestSpec, TargetSpec
from reconciler.errors import PlanError
from reconciler.state.model import ManifestRecord, PackageRecord, State, import_key

__all__ = ["pinned_by_rollback", "rollback_desired"]


def rollback_desired(
    desired: DesiredState, then: State, serial: int
) -> tuple[DesiredState, list[str]]:
    """The config pinned to serial `serial` (whose state is `then`), and what it leaves out."""
    notes: list[str] = []
    manifests: dict[str, ManifestSpec] = {}
    for name, spec in desired.manifests.items():
        package = then.packages.get(name)
        if package is None or package.status != "completed" or not package.asset_versions:
            notes.append(
                f"rollback to serial {serial}: manifest {name} had no completed package "
                "then; it is left as it is"
            )
            continue
        manifests[name] = _pinned(spec, package)
    if not manifests:
        raise PlanError(
            f"serial {serial} records no completed package of any manifest in the config: "
            "nothing to roll back to"
        )
    manifests = {
        n: replace(m, depends_on=tuple(d for d in m.depends_on if d in manifests))
        for n, m in manifests.items()
    }
    targets: dict[str, TargetSpec] = {}
    for address, target in desired.targets.items():
        ran = tuple(m for m in target.manifests if m in manifests and _imported(then, m, address))
        if ran:
            targets[address] = replace(target, manifests=ran)
    notes.append(
        f"rollback to serial {serial}: the config still asks for what it asks for now; a "
        "plan without --rollback-to goes forward again unless the config pins these versions"
    )
    return replace(desired, manifests=manifests, targets=targets), notes


def _pinned(spec: ManifestSpec, package: PackageRecord) -> ManifestSpec:
    assets = tuple(
        AssetRef(type=s.type, name=s.name, version=s.version)
        for s in sorted(package.asset_versions, key=lambda s: (s.type, s.name))
    )
    return replace(spec, assets=assets, auto_generate=None)


def _imported(then: State, manifest: str, target: str) -> bool:
    record = then.imports.get(import_key(manifest, target))
    return record is not None and record.status == "completed"


def pinned_by_rollback(spec: ManifestSpec, record: ManifestRecord | None) -> ManifestSpec:
    """The spec drift compares the source with: the pins a rollback sent, else the config."""
    if record is None or record.rollback_serial is None:
        return spec
    assets = tuple(AssetRef(type=a.type, name=a.name, version=a.version) for a in record.assets)
    return replace(spec, assets=assets, auto_generate=None)

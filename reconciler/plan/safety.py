"""Safety rules: plans too dangerous to apply without saying so (as octoDNS's thresholds).

Each rule has its own flag, so that getting past one never switches off another
(`--force` allows the two thresholds, 1 and 2, and nothing else):

1. `--allow-delete` (or --force): a plan that deletes manifests. A deleted manifest
   cannot be brought back with its id, and packages built from it stop being
   reproducible.
2. `--allow-wide-wave` (or --force): re-importing into customers that already run a
   package is the risky part of a rollout. When at least `min_existing_targets` (10)
   targets have been deployed, the first wave of the plan that re-imports into deployed
   targets may touch at most `max_first_wave_share` (25%) of them. A rollout that starts
   with a canary wave passes; one that updates the whole fleet at once needs the flag.
   Not counted, as they are no new re-import: first imports (into a new target, or of a
   manifest new to the target: nothing is running there yet), polls of imports an earlier
   apply started, an import whose answer was lost, and the same package into a wave that
   an earlier apply already began rolling it out in (a stopped rollout resumed).
3. `--allow-unrecorded-create` (only): a manifest create whose earlier create was sent
   but never recorded (the run was killed while waiting for Workato's answer; the
   state's `pending` marker says so): that manifest may exist, and creating another
   leaves a throwaway duplicate behind. `rlcm adopt manifest.NAME ID` records the one that
   exists instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.config.desired import SafetySpec
from reconciler.plan import Change, Plan
from reconciler.state.model import State, import_key

__all__ = ["FLAGS", "Unsafe", "unsafe_reasons", "unsafe_rules"]

# rule -> the flags that allow it
FLAGS: dict[str, tuple[str, ...]] = {
    "delete": ("--allow-delete", "--force"),
    "wide-wave": ("--allow-wide-wave", "--force"),
    "unrecorded-create": ("--allow-unrecorded-create",),
}


@dataclass(frozen=True)
class Unsafe:
    rule: str  # a key of FLAGS
    reason: str

    @property
    def flag(self) -> str:
        return FLAGS[self.rule][0]

    def text(self) -> str:
        return f"{self.reason} (needs {' or '.join(FLAGS[self.rule])})"


def unsafe_reasons(
    plan: Plan, state: State, safety: SafetySpec, target_waves: Mapping[str, str] | None = None
) -> list[str]:
    """Why this plan needs a flag, each naming it; empty when it is within the rules."""
    return [u.text() for u in unsafe_rules(plan, state, safety, target_waves)]


def unsafe_rules(
    plan: Plan, state: State, safety: SafetySpec, target_waves: Mapping[str, str] | None = None
) -> list[Unsafe]:
    """The rules this plan breaks. `target_waves` (target address -> wave, from the
    config) tells which wave an earlier apply imported a package into."""
    found: list[Unsafe] = []
    deletes = [c.address for c in plan.changes if c.kind == "manifest" and c.action == "delete"]
    if deletes:
        found.append(
            Unsafe("delete", f"it deletes {len(deletes)} manifest(s): {', '.join(deletes)}")
        )
    unrecorded = [
        c.address
        for c in plan.changes
        if c.kind == "manifest"
        and c.action in ("create", "recreate")
        and c.manifest in state.pending
    ]
    if len(unrecorded) == 1:
        found.append(
            Unsafe(
                "unrecorded-create",
                f"an earlier create of {unrecorded[0]} was sent but never recorded and may "
                "exist in Workato; record it with `rlcm adopt ADDRESS ID` rather than create "
                "another",
            )
        )
    elif unrecorded:
        found.append(
            Unsafe(
                "unrecorded-create",
                f"earlier creates of {', '.join(unrecorded)} were sent but never recorded and "
                "may exist in Workato; record them with `rlcm adopt ADDRESS ID` rather than "
                "create others",
            )
        )
    share = _first_wave_share(plan, state, safety, target_waves or {})
    if share is not None:
        found.append(Unsafe("wide-wave", share))
    return found


def _first_wave_share(
    plan: Plan, state: State, safety: SafetySpec, target_waves: Mapping[str, str]
) -> str | None:
    deployed = {r.target for r in state.imports.values() if r.status == "completed"}
    if len(deployed) < max(safety.min_existing_targets, 1):
        return None
    under_way = _rolled_out(plan, state, target_waves)
    for wave in plan.waves:
        touched = {
            str(c.target)
            for c in plan.changes
            if c.kind == "import"
            and c.action == "import"
            and c.wave == wave
            and c.target in deployed
            and not _resumed(c, state, under_way)
        }
        if not touched:
            continue
        share = len(touched) / len(deployed)
        if share <= safety.max_first_wave_share:
            return None
        return (
            f"wave {wave} re-imports into {len(touched)} of {len(deployed)} deployed targets "
            f"at once ({share:.0%}, limit {safety.max_first_wave_share:.0%}); start the "
            "rollout with a smaller canary wave, or raise Rollout safety.max_first_wave_share"
        )
    return None


def _rolled_out(
    plan: Plan, state: State, target_waves: Mapping[str, str]
) -> set[tuple[str, str, str]]:
    """(manifest, package digest, wave) of every import an earlier apply started."""
    waves = {**target_waves, **{str(c.target): str(c.wave) for c in plan.changes if c.target}}
    return {
        (r.manifest, r.package_digest, waves[r.target])
        for r in state.imports.values()
        if r.target in waves
    }


def _resumed(change: Change, state: State, under_way: set[tuple[str, str, str]]) -> bool:
    """An import that is no new re-import (see rule 2)."""
    data = change.data
    if data.get("resume_import_id") is not None or data.get("first_import"):
        return True
    package = data.get("package")
    if not isinstance(package, Mapping):
        return False  # a package this plan exports: new by definition
    digest = str(package.get("digest"))
    pending = state.pending_imports.get(import_key(change.manifest, str(change.target)))
    if pending is not None and pending.package_digest == digest:
        return True
    return (change.manifest, digest, str(change.wave)) in under_way

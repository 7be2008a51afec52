"""Safety thresholds: plans too dangerous to apply without `--force` (as octoDNS does).

Two rules, with defaults a partner can tune in the Rollout's `safety`:

1. A plan that deletes manifests always needs --force: a deleted manifest cannot be
   brought back with its id, and packages built from it stop being reproducible.
2. Re-importing into customers that already run a package is the risky part of a
   rollout. When at least `min_existing_targets` (10) targets have been deployed, the
   first wave of the plan that re-imports into deployed targets may touch at most
   `max_first_wave_share` (25%) of them. A rollout that starts with a canary wave passes;
   one that updates the whole fleet at once needs --force. First imports into new
   targets do not count: nothing is running there yet.
3. A manifest create whose earlier create was sent but never recorded (the run was
   killed while waiting for Workato's answer; the state's `pending` marker says so)
   needs --force: that manifest may exist, and creating another leaves a throwaway
   duplicate behind. `rlcm adopt manifest.NAME ID` records the one that exists instead.
"""

from __future__ import annotations

from reconciler.config.desired import SafetySpec
from reconciler.plan import Plan
from reconciler.state.model import State

__all__ = ["unsafe_reasons"]


def unsafe_reasons(plan: Plan, state: State, safety: SafetySpec) -> list[str]:
    """Why this plan needs --force; empty when it is within the thresholds."""
    reasons: list[str] = []
    deletes = [c.address for c in plan.changes if c.kind == "manifest" and c.action == "delete"]
    if deletes:
        reasons.append(f"it deletes {len(deletes)} manifest(s): {', '.join(deletes)}")
    unrecorded = [
        c.address
        for c in plan.changes
        if c.kind == "manifest"
        and c.action in ("create", "recreate")
        and c.manifest in state.pending
    ]
    if len(unrecorded) == 1:
        reasons.append(
            f"an earlier create of {unrecorded[0]} was sent but never recorded and may exist "
            "in Workato; record it with `rlcm adopt ADDRESS ID` rather than create another"
        )
    elif unrecorded:
        reasons.append(
            f"earlier creates of {', '.join(unrecorded)} were sent but never recorded and "
            "may exist in Workato; record them with `rlcm adopt ADDRESS ID` rather than "
            "create others"
        )
    share = _first_wave_share(plan, state, safety)
    if share is not None:
        reasons.append(share)
    return reasons


def _first_wave_share(plan: Plan, state: State, safety: SafetySpec) -> str | None:
    deployed = {r.target for r in state.imports.values() if r.status == "completed"}
    if len(deployed) < max(safety.min_existing_targets, 1):
        return None
    for wave in plan.waves:
        touched = {
            str(c.target)
            for c in plan.changes
            if c.kind == "import" and c.wave == wave and c.target in deployed
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

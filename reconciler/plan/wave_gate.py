"""May wave W start, when waves run as separate CI jobs (`rlcm apply --wave W`)?

One apply runs the waves in order and asks each one's gate as it ends (applier/gates.py).
Run one wave per job, the later job asks the same of the earlier waves, from what the
state recorded of their last run (`State.waves`) and from what the full plan still holds
for them:

- an earlier wave whose last run ended over its `max_failures` stops W;
- an earlier wave with imports still planned (other than those of targets that failed
  within its budget) has not run for this change yet, and stops W too.

Pure: no I/O, no clock (the bake time of an earlier wave is the applier's to wait out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.plan.model import Plan
from reconciler.state.model import State

__all__ = ["WaveBlock", "earlier_wave_block"]

_SHOWN = 3  # planned imports named before "and N more"


@dataclass(frozen=True)
class WaveBlock:
    wave: str  # the earlier wave that stops the one asked about
    reason: str  # one sentence: what stopped what, and why
    skip_message: str  # what each step it stops says


def earlier_wave_block(
    full: Plan, state: State, waves: Sequence[str], wave: str
) -> WaveBlock | None:
    """Why `wave` may not start yet, or None. `full` is the plan of every wave."""
    if wave not in waves:
        return None
    for earlier in waves[: waves.index(wave)]:
        record = state.waves.get(earlier)
        if record is not None and not record.passed:
            failed = ", ".join(record.failed_targets) or "none"
            return WaveBlock(
                earlier,
                f"the gate of wave {earlier} stopped wave {wave}: its last run (finished "
                f"{record.finished_at}) had {len(record.failed_targets)} of "
                f"{record.targets} targets failed ({failed}), over its max_failures; "
                f"fix them and run `rlcm apply --wave {earlier}` again",
                f"not started: the gate of wave {earlier} failed",
            )
        allowed = set(record.failed_targets) if record is not None else set()
        pending = [
            c.address
            for c in full.changes
            if c.kind in ("import", "recipes")
            and c.action != "forget"
            and c.wave == earlier
            and c.target not in allowed
        ]
        if pending:
            shown = ", ".join(pending[:_SHOWN])
            more = f" and {len(pending) - _SHOWN} more" if len(pending) > _SHOWN else ""
            noun = "import" if len(pending) == 1 else "imports"
            return WaveBlock(
                earlier,
                f"wave {earlier} is not done, so wave {wave} does not start: {len(pending)} "
                f"{noun} planned ({shown}{more}); run `rlcm apply --wave {earlier}` first",
                f"not started: wave {earlier} is not done",
            )
    return None

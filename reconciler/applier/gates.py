"""The brakes of a rollout: wave gates and the emergency brake, as plain decisions.

- A wave gate: a wave starts only when every earlier wave ended within its failure budget
  (`max_failures`, a count or a percentage of the wave's targets, default 0).
- The emergency brake (`halt_after_failures`): once that many targets failed anywhere in
  one apply, no further target starts, in this wave or a later one.

Each decision that stops something is a `Halt`: which gate, after which wave, and one
sentence that says what it stopped and why. The report carries that sentence once; each
skipped step only names the gate (`skip_message`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from reconciler.config.desired import RolloutSpec, Share

__all__ = ["GateKind", "Gates", "Halt"]

GateKind = Literal["wave", "brake"]
_NAMED = 5  # failed targets named in a halt reason before "and N more"


@dataclass(frozen=True)
class Halt:
    gate: GateKind
    wave: str  # the wave after (or, for the brake, during) which the rollout stopped
    reason: str  # the one sentence the report shows
    skip_message: str  # what each step the gate stopped says


@dataclass(frozen=True)
class Gates:
    """The gate settings of one apply, from the Rollout."""

    budgets: Mapping[str, Share] = field(default_factory=dict)  # wave -> max_failures
    sizes: Mapping[str, int] = field(default_factory=dict)  # wave -> targets in the config
    halt_after_failures: int | None = None

    @classmethod
    def of(cls, rollout: RolloutSpec, sizes: Mapping[str, int]) -> Gates:
        budgets = {wave: rollout.gate(wave).max_failures for wave in rollout.waves}
        return cls(budgets, dict(sizes), rollout.halt_after_failures)

    def after_wave(
        self, wave: str, failed: Sequence[str], ran: int, later: Sequence[str]
    ) -> Halt | None:
        """The gate at the end of `wave`: `failed` of the `ran` targets that ran failed."""
        share = self.budgets.get(wave, Share(count=0))
        size = max(self.sizes.get(wave, 0), ran)
        budget = share.budget(size)
        if len(failed) <= budget or not later:
            return None
        reason = (
            f"the gate of wave {wave} stopped {_waves(later)}: {len(failed)} of "
            f"{_targets(size)} failed ({_names(failed)}), max_failures is {share}"
            + (f" ({budget} of {size})" if share.percent is not None else "")
        )
        return Halt("wave", wave, reason, f"not started: the gate of wave {wave} failed")

    def brake(self, wave: str, failed: Sequence[str]) -> Halt | None:
        """The emergency brake, asked before a target starts."""
        limit = self.halt_after_failures
        if limit is None or len(failed) < limit:
            return None
        reason = (
            f"the emergency brake stopped every target not yet started, from wave {wave} "
            f"on: {_targets(len(failed))} failed ({_names(failed)}), halt_after_failures "
            f"is {limit}"
        )
        return Halt("brake", wave, reason, "not started: halt_after_failures was reached")


def _targets(count: int) -> str:
    return f"{count} target" if count == 1 else f"{count} targets"


def _waves(names: Sequence[str]) -> str:
    return ("wave " if len(names) == 1 else "waves ") + ", ".join(names)


def _names(targets: Sequence[str]) -> str:
    shown = ", ".join(targets[:_NAMED])
    more = len(targets) - _NAMED
    return f"{shown} and {more} more" if more > 0 else shown

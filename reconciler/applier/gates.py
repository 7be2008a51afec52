"""The brakes of a rollout: wave and batch gates and the emergency brake, as decisions.

- A wave gate: a wave starts only when every earlier wave ended within its failure budget
  (`max_failures`, a count or a percentage of the wave's targets, default 0).
- Batches: a wave may run in batches (cumulative sizes over its targets in config order);
  after each batch the wave's gate is asked of the targets run so far, so a failing first
  batch stops the next one as a failing wave stops the next wave.
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

from reconciler.config.desired import RolloutSpec, WaveSpec

__all__ = ["GateKind", "Gates", "Halt", "duration_text"]

GateKind = Literal["wave", "batch", "brake", "health"]
_NAMED = 5  # failed targets named in a halt reason before "and N more"


@dataclass(frozen=True)
class Halt:
    gate: GateKind
    wave: str  # the wave after (or, for the brake, during) which the rollout stopped
    reason: str  # the one sentence the report shows
    skip_message: str  # what each step the gate stopped says


@dataclass(frozen=True)
class Gates:
    """The gate settings of one apply, from the Rollout and the config's targets."""

    waves: Mapping[str, WaveSpec] = field(default_factory=dict)
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # wave -> targets
    halt_after_failures: int | None = None

    @classmethod
    def of(cls, rollout: RolloutSpec, members: Mapping[str, Sequence[str]]) -> Gates:
        waves = {wave: rollout.gate(wave) for wave in rollout.waves}
        listed = {wave: tuple(targets) for wave, targets in members.items()}
        return cls(waves, listed, rollout.halt_after_failures)

    def spec(self, wave: str) -> WaveSpec:
        return self.waves.get(wave) or WaveSpec(wave)

    def batches(self, wave: str, targets: Sequence[str]) -> list[list[str]]:
        """`targets` (those of `wave` that have work) grouped by batch, in batch order.

        Batches are cut from all the wave's targets in the config, so a target's batch does
        not depend on what else has work in this apply; empty batches are left out.
        """
        members = self.members.get(wave, ())
        position = {target: i for i, target in enumerate(members)}
        ends = self.spec(wave).batch_sizes(len(members)) if members else (0,)
        groups: list[list[str]] = [[] for _ in ends]
        for target in targets:
            at = position.get(target, len(members))
            index = next((i for i, end in enumerate(ends) if at < end), len(ends) - 1)
            groups[index].append(target)
        return [group for group in groups if group]

    def batch_count(self, wave: str) -> int:
        return len(self.spec(wave).batch_sizes(len(self.members.get(wave, ()))))

    def batch_end(self, wave: str, target: str) -> tuple[int, int]:
        """(batch number from 1, cumulative targets of the wave through that batch)."""
        members = self.members.get(wave, ())
        at = members.index(target) if target in members else len(members)
        ends = self.spec(wave).batch_sizes(len(members)) if members else (0,)
        for index, end in enumerate(ends):
            if at < end:
                return index + 1, end
        return len(ends), max(ends[-1], at + 1)

    def after_batch(
        self,
        wave: str,
        last_target: str,
        failed: Sequence[str],
        later_batches: int,
        later_waves: Sequence[str],
    ) -> Halt | None:
        """The gate after a batch of `wave` whose last target is `last_target`: `failed`
        are the wave's failed targets so far."""
        share = self.spec(wave).max_failures
        number, reached = self.batch_end(wave, last_target)
        reached = max(reached, len(failed))
        budget = share.budget(reached)
        if len(failed) <= budget or not (later_batches or later_waves):
            return None
        stopped = _stopped(wave, number, later_batches, later_waves)
        counted = f"{len(failed)} of {_targets(reached)}"
        if later_batches or number > 1:
            where = f"the gate of wave {wave} after batch {number} of {self.batch_count(wave)}"
            gate: GateKind = "batch"
            counted += " run so far"
        else:
            where, gate = f"the gate of wave {wave}", "wave"
        reason = (
            f"{where} stopped {stopped}: {counted} failed ({_names(failed)}), max_failures "
            f"is {share}" + (f" ({budget} of {reached})" if share.percent is not None else "")
        )
        return Halt(gate, wave, reason, f"not started: {where} failed")

    def after_health(
        self,
        wave: str,
        failed: Sequence[str],
        unhealthy: Mapping[str, Sequence[str]],
        later_waves: Sequence[str],
    ) -> Halt | None:
        """The gate at the end of a wave's bake: its failed targets and those whose recipes
        failed a health condition, against its max_failures."""
        spec = self.spec(wave)
        share = spec.max_failures
        bad = sorted(set(failed) | set(unhealthy))
        size = max(len(self.members.get(wave, ())), len(bad))
        budget = share.budget(size)
        if not unhealthy or len(bad) <= budget or not later_waves:
            return None
        bake = f" after its {duration_text(spec.bake or 0)} bake" if spec.bake else ""
        shown = list(unhealthy.items())[:_NAMED]
        named = "; ".join(f"{target}: {', '.join(why)}" for target, why in shown)
        more = len(unhealthy) - len(shown)
        named += f"; and {more} more targets" if more > 0 else ""
        reason = (
            f"the health gate of wave {wave}{bake} stopped {_stopped(wave, 0, 0, later_waves)}: "
            f"{named} ({len(bad)} of {_targets(size)} failed, max_failures is {share})"
        )
        return Halt("health", wave, reason, f"not started: the health gate of wave {wave} failed")

    def passed(self, wave: str, failed: Sequence[str]) -> bool:
        """Whether a wave that ran to its end is within its budget (what a later
        `apply --wave` of the next wave checks)."""
        size = max(len(self.members.get(wave, ())), len(failed))
        return len(failed) <= self.spec(wave).max_failures.budget(size)

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


def _stopped(wave: str, number: int, later_batches: int, later_waves: Sequence[str]) -> str:
    parts = []
    if later_batches == 1:
        parts.append(f"batch {number + 1} of wave {wave}")
    elif later_batches:
        parts.append(f"batches {number + 1}-{number + later_batches} of wave {wave}")
    if later_waves:
        parts.append(("wave " if len(later_waves) == 1 else "waves ") + ", ".join(later_waves))
    return " and ".join(parts)


def duration_text(seconds: float) -> str:
    """A duration as the config writes it: `15m`, `1h`, `1.5s`."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _targets(count: int) -> str:
    return f"{count} target" if count == 1 else f"{count} targets"


def _names(targets: Sequence[str]) -> str:
    shown = ", ".join(targets[:_NAMED])
    more = len(targets) - _NAMED
    return f"{shown} and {more} more" if more > 0 else shown

"""Executes a plan as a graph: manifests, then exports, then imports wave by wave.

- Manifest changes run first, concurrently (there are few).
- Each export starts once its manifest change succeeded; all exports run concurrently,
  and every import of a manifest waits for that one export (one package, many targets).
- Waves run in Rollout order. Inside a wave every target runs its imports one after
  another in dependency order (`depends_on` first): one folder never receives two
  imports at once, and a dependent import is skipped, with the reason, when one it
  depends on failed. At most `max_parallel` imports are in flight across all targets;
  a target already under way gets the next free slot before a target not yet started,
  so targets finish, and their baseline reads start, as early as possible, until the
  end of a batch is in sight; then the targets with the most imports left go first, so
  that no slots idle in a tail (slots.py).
  After a target's last import its recipes are read once (Recipes API), outside the
  import slots, as the drift baseline of all its imports (`record_baseline`); then its
  declared running state is applied (`recipes.TARGET`: start or stop its recipes).
- Gates (gates.py): a wave starts only when every earlier wave ended within its
  `max_failures`; once `halt_after_failures` targets failed anywhere (the emergency brake),
  no further target starts. What a gate stopped is skipped, naming the gate; the report
  says once which gate stopped what (`ApplyReport.halt_reason`).
- `stop` (set on the first Ctrl-C, or by an auth failure) starts nothing new; steps in
  flight finish their poll and are recorded.
- `deadline` (`rlcm apply --max-duration`): a step starts only if steps of its kind have
  so far finished within the time left (their longest duration, none yet: it may start
  while any time is left), so the jobs in flight finish and are recorded before the
  deadline; the rest are "interrupted" with the reason and the apply exits 4. A bake
  that would end after the deadline is not waited out: the later waves are not started
  (exit 4), and the wave's record keeps `baked: false`, so the next apply waits for what
  is left of it and asks its health gate first (cli/apply.py). A wave the deadline cut
  short is not recorded (the next apply finishes it). A gate that halts, or a failed
  step, makes the exit code 3 even when the deadline was reached too (report/model.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.applier.gates import Gates, Halt, duration_text
from reconciler.applier.health import HealthTarget, check_health, wait_bake
from reconciler.applier.recipes import run_recipes
from reconciler.applier.recorder import now_iso
from reconciler.applier.slots import Slots
from reconciler.applier.steps import (
    StepContext,
    drain,
    record_baseline,
    run_export,
    run_import,
    run_manifest,
)
from reconciler.config.desired import HealthSpec
from reconciler.errors import RlcmError
from reconciler.plan import Change, Plan
from reconciler.render.progress import SOURCE_ROW, ApplyProgress, NullProgress
from reconciler.report import ApplyReport, StepOutcome, StepStatus
from reconciler.state.model import WaveRecord

__all__ = ["RunSettings", "run_plan"]

log = logging.getLogger(__name__)

StepRunner = Callable[[StepContext, Change], Awaitable[StepOutcome]]


@dataclass(frozen=True)
class RunSettings:
    max_parallel: int = 8
    gates: Gates = field(default_factory=Gates)
    deadline: float | None = None  # time.monotonic() by which the apply must be done
    max_duration: str = ""  # as the user wrote it, for messages ("5h30m")


@dataclass
class _Run:
    plan: Plan
    ctx: StepContext
    settings: RunSettings
    progress: ApplyProgress
    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    failed_targets: set[str] = field(default_factory=set)
    exports: set[str] = field(default_factory=set)
    halt: Halt | None = None
    deadline_hit: bool = False
    deadline_note: str | None = None  # why, when not a step's length (a bake)
    cut_waves: set[str] = field(default_factory=set)  # with steps the deadline stopped
    longest: dict[str, float] = field(default_factory=dict)  # by step kind, seconds

    def finish(self, outcome: StepOutcome) -> StepOutcome:
        self.outcomes[outcome.address] = outcome
        if outcome.duration_s is not None:
            self.longest[outcome.kind] = max(
                self.longest.get(outcome.kind, 0.0), outcome.duration_s
            )
        if outcome.kind in TARGET_KINDS and outcome.failed and outcome.target:
            self.failed_targets.add(outcome.target)
        self.progress.step_finished(outcome)
        return outcome

    def skip(self, change: Change, why: str, status: str = "skipped") -> StepOutcome:
        final: StepStatus = "interrupted" if status == "interrupted" else "skipped"
        return self.finish(StepOutcome.of(change, final, message=why))

    def blocked_by(self, change: Change) -> str | None:
        """Why `change` cannot run: a step it depends on did not succeed."""
        for address in change.depends_on:
            done = self.outcomes.get(address)
            if done is not None and done.effective_status != "succeeded":
                return f"{address} {done.effective_status}"
        return None

    def too_late(self, kind: str) -> bool:
        """Whether a step of `kind` started now would end after the deadline."""
        deadline = self.settings.deadline
        if deadline is None:
            return False
        if self.deadline_hit:
            return True
        left = deadline - time.monotonic()
        if left <= self.longest.get(kind, 0.0):
            self.deadline_hit = True
        return self.deadline_hit

    def deadline_reason(self) -> str:
        why = self.deadline_note or (
            f"--max-duration {self.settings.max_duration} would pass before it finished"
        )
        return f"not started: {why}; run `rlcm apply` again to continue"

    def stop_reason(self) -> str:
        if self.ctx.fatal:
            return f"apply stopped: {self.ctx.fatal[0]}"
        return "apply interrupted before this step started"


async def run_plan(
    plan: Plan,
    ctx: StepContext,
    settings: RunSettings,
    progress: ApplyProgress | None = None,
) -> ApplyReport:
    run = _Run(plan, ctx, settings, progress or NullProgress())
    run.exports = {c.address for c in plan.changes if c.kind == "export"}
    started = now_iso()
    by_kind = {kind: [c for c in plan.changes if c.kind == kind] for kind in KINDS}
    run.progress.start(_totals(plan))
    try:
        await asyncio.gather(*(_step(run, c, run_manifest) for c in by_kind["manifest"]))
        exports = [asyncio.create_task(_step(run, c, run_export)) for c in by_kind["export"]]
        imports = [c for c in by_kind["import"] if c.action != "forget"]
        # a forget (--prune) has no wave: it only drops a state record, so it runs apart
        forgets = [c for c in by_kind["import"] if c.action == "forget"]
        await asyncio.gather(*(_step(run, c, run_import) for c in forgets))
        await _imports(run, imports + by_kind["recipes"])
        await asyncio.gather(*exports)
    except asyncio.CancelledError:  # aborted: what was sent is recorded before we go
        await drain(ctx)
        raise
    finally:
        ctx.recorder.flush()  # records batched for a group write (recorder.py)
    run.progress.close()
    return ApplyReport(
        steps=[run.outcomes[c.address] for c in plan.changes if c.address in run.outcomes],
        started_at=started,
        finished_at=now_iso(),
        waves=list(plan.waves),
        halted_after_wave=run.halt.wave if run.halt else None,
        halt_reason=run.halt.reason if run.halt else None,
        halted_by=run.halt.gate if run.halt else None,
        interrupted=ctx.stop.is_set(),
        deadline=_deadline_text(run),
    )


def _deadline_text(run: _Run) -> str | None:
    if not run.deadline_hit:
        return None
    stopped = sum(1 for o in run.outcomes.values() if o.message == run.deadline_reason())
    why = f" ({run.deadline_note})" if run.deadline_note else ""
    return (
        f"stopped at the --max-duration deadline ({run.settings.max_duration}): {stopped} "
        f"step(s) not started{why}; run `rlcm apply` again to continue"
    )


KINDS = ("manifest", "export", "import", "recipes")
TARGET_KINDS = ("import", "recipes")  # the steps of one target, run in its waves


def _totals(plan: Plan) -> dict[str, int]:
    totals: dict[str, int] = {}
    for change in plan.changes:
        row = change.wave if change.kind in TARGET_KINDS and change.wave else SOURCE_ROW
        totals[row] = totals.get(row, 0) + 1
    return totals


async def _step(run: _Run, change: Change, runner: StepRunner) -> StepOutcome:
    # Stopping comes first: whatever had not started when the apply was interrupted is
    # "interrupted", even if a step it depends on failed; the re-run decides about it.
    if run.ctx.stop.is_set():
        if change.kind == "export":
            run.ctx.board.fail(change.manifest, RuntimeError("interrupted"))
        return run.skip(change, run.stop_reason(), "interrupted")
    if run.too_late(change.kind):  # as for a stop: not started, the re-run goes on
        if change.kind == "export":
            run.ctx.board.fail(change.manifest, RuntimeError("deadline"))
        if change.kind in TARGET_KINDS and change.wave:
            run.cut_waves.add(change.wave)
        return run.skip(change, run.deadline_reason(), "interrupted")
    why = run.blocked_by(change)
    if why is not None:
        if change.kind == "export":
            run.ctx.board.fail(change.manifest, RuntimeError(why))
        return run.skip(change, f"depends on {why}")
    wave = change.wave if change.kind in TARGET_KINDS else None
    run.progress.step_started(change.address, wave)
    return run.finish(await runner(run.ctx, change))


async def _imports(run: _Run, changes: Sequence[Change]) -> None:
    limit = Slots(run.settings.max_parallel)
    gates = run.settings.gates
    waves = _waves(run.plan, changes)
    for position, wave in enumerate(waves):
        in_wave = [c for c in changes if c.wave == wave]
        if run.halt is not None:
            for change in in_wave:
                run.skip(change, run.halt.skip_message)
            continue
        run.progress.wave_started(wave)
        chains: dict[str, list[Change]] = {}
        for change in in_wave:
            chains.setdefault(str(change.target), []).append(change)
        batches = gates.batches(wave, list(chains))
        for number, batch in enumerate(batches):
            if run.halt is not None:
                for target in batch:
                    for change in chains[target]:
                        run.skip(change, run.halt.skip_message)
                continue
            limit.expect(sum(_imports_of(chains[target]) for target in batch))
            await asyncio.gather(*(_chain(run, chains[target], limit) for target in batch))
            if run.halt is None:
                failed = sorted(t for t in chains if t in run.failed_targets)
                later = len(batches) - number - 1
                run.halt = gates.after_batch(wave, batch[-1], failed, later, waves[position + 1 :])
        run.progress.wave_finished(wave)
        finished_at = now_iso()
        # recorded before the bake too (`baked: false`): after a kill, or a deadline that
        # comes before the bake's end, the next apply waits for what is left of it
        _record_wave(run, wave, chains, finished_at, {}, baked=False)
        unhealthy = await _bake(run, wave, chains, waves[position + 1 :])
        if unhealthy is not None:
            _record_wave(run, wave, chains, finished_at, unhealthy, baked=True)


def _waves(plan: Plan, changes: Sequence[Change]) -> list[str]:
    used = {str(c.wave) for c in changes}
    ordered = [w for w in plan.waves if w in used]
    return ordered + sorted(used - set(ordered))


async def _chain(run: _Run, steps: Sequence[Change], limit: Slots) -> None:
    """One target's imports, in dependency order, one at a time; then its baseline read,
    then its recipes' declared running state.

    The slot of one import passes straight to the target's next one when its package is
    ready (and no target with more imports left needs it at the end: `Slots`): released
    in between, it would go to a waiting target not yet started before this one could ask
    for it again, and targets would finish breadth-first after all.
    """
    chain = [c for c in steps if c.kind == "import"]
    held = False
    try:
        for position, change in enumerate(chain):
            left = len(chain) - position
            if held and (not _export_ready(run, change) or limit.should_yield(left)):
                limit.release()  # an export wait holds no slot; nor, at the end, a
                held = False  # target with fewer imports left than a waiting one
            await _export_settled(run, change)
            if (
                run.blocked_by(change) is not None
                or run.ctx.stop.is_set()
                or run.too_late(change.kind)
            ):
                limit.spent()
                await _step(run, change, run_import)  # records why it is skipped
                continue
            if not held:
                await limit.acquire(-position, left)
                held = True
            if position == 0 and _braked(run, steps):
                limit.spent(left)
                return  # (the baseline read below has nothing to record either)
            limit.spent()
            await _step(run, change, run_import)
    finally:
        if held:
            limit.release()
    # outside the import slot: the read waits for the "other" quota, not for an import
    for outcome in await record_baseline(run.ctx, chain, run.outcomes):
        run.outcomes[outcome.address] = outcome
    if not chain and _braked(run, steps):
        return
    for change in steps:  # after the read: it finds what the imports brought
        if change.kind == "recipes":
            await _step(run, change, run_recipes)


def _imports_of(steps: Sequence[Change]) -> int:
    return sum(1 for c in steps if c.kind == "import")


def _export_ready(run: _Run, change: Change) -> bool:
    """Whether `_export_settled` would return at once."""
    if change.data.get("package") is not None or f"export.{change.manifest}" not in run.exports:
        return True
    return run.ctx.board.future(change.manifest).done()


async def _export_settled(run: _Run, change: Change) -> None:
    """Wait until the export this import needs (if it is in this apply) has finished."""
    if change.data.get("package") is None and f"export.{change.manifest}" in run.exports:
        await asyncio.wait([run.ctx.board.future(change.manifest)])


async def _bake(
    run: _Run, wave: str, chains: Mapping[str, Sequence[Change]], later: Sequence[str]
) -> dict[str, list[str]] | None:
    """A wave with a bake, before a later wave of this apply: wait, then check the health
    of its targets that did not fail (health.py); a failed health gate halts. The targets
    that failed it; None without a bake, or when it was not waited out."""
    spec = run.settings.gates.spec(wave)
    if spec.bake is None:
        return None
    stopped = run.halt is not None or run.ctx.stop.is_set() or wave in run.cut_waves
    if stopped or run.deadline_hit or not later:
        return None
    deadline = run.settings.deadline
    if deadline is not None and deadline - time.monotonic() < spec.bake:
        # waiting would end after the deadline: stop now, the next apply bakes on
        run.deadline_hit = True
        run.deadline_note = (
            f"the {duration_text(spec.bake)} bake of wave {wave} would end after "
            f"--max-duration {run.settings.max_duration}"
        )
        log.info("bake: not waited, it ends after the deadline wave=%s", wave)
        return None
    log.info("bake: wave=%s seconds=%s", wave, spec.bake)
    run.progress.baking(wave, spec.bake)
    if not await wait_bake(spec.bake, run.ctx.stop):
        return None  # interrupted: the later waves' steps say so
    targets = [_health_target(t, steps) for t, steps in chains.items()]
    healthy = [t for t in targets if t.address not in run.failed_targets]
    unhealthy = await check_health(
        healthy, run.ctx.recorder.state, run.ctx.clients, spec.health or HealthSpec()
    )
    failed = sorted(t for t in chains if t in run.failed_targets)
    run.halt = run.settings.gates.after_health(wave, failed, unhealthy, later)
    return unhealthy


def _health_target(address: str, steps: Sequence[Change]) -> HealthTarget:
    data = steps[0].data
    return HealthTarget(address, data["workspace"], data.get("customer"), int(data["folder_id"]))


def _record_wave(
    run: _Run,
    wave: str,
    chains: Mapping[str, Sequence[Change]],
    finished_at: str,
    unhealthy: Mapping[str, Sequence[str]],
    *,
    baked: bool,
) -> None:
    """How the wave ended, in state: a later `apply --wave` checks it as the gate of an
    earlier wave. A wave stopped midway (a batch gate, the brake) or by its health gate did
    not pass; an interrupted one, or one the deadline cut short, is not recorded (the next
    apply finishes it). `baked`: its bake was waited out and its health asked."""
    if run.ctx.stop.is_set() or wave in run.cut_waves:
        return
    failed = sorted(t for t in chains if t in run.failed_targets or t in unhealthy)
    stopped = run.halt is not None and run.halt.wave == wave
    passed = not stopped and run.settings.gates.passed(wave, failed)
    record = WaveRecord(
        name=wave,
        finished_at=finished_at,
        passed=passed,
        targets=len(chains),
        failed_targets=failed,
        baked=baked or run.settings.gates.spec(wave).bake is None,
    )
    try:
        run.ctx.recorder.wave_finished(record)
    except (RlcmError, OSError) as exc:  # the imports' own records failed the same way
        log.warning("wave: its record could not be written wave=%s error=%s", wave, exc)


def _braked(run: _Run, chain: Sequence[Change]) -> bool:
    """The emergency brake: once it is pulled, a target not yet started is skipped."""
    wave = str(chain[0].wave)
    if run.halt is None:
        run.halt = run.settings.gates.brake(wave, sorted(run.failed_targets))
    if run.halt is None or run.halt.gate != "brake":
        return False
    for change in chain:
        run.skip(change, run.halt.skip_message)
    return True

"""`rlcm apply [PLANFILE]`: make live match the config, and report every recipe's result."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from reconciler.cli.common import format_option
from reconciler.cli.options import GlobalOptions, common_options

if TYPE_CHECKING:
    from reconciler.config.desired import DesiredState
    from reconciler.plan import Plan
    from reconciler.render.progress import ApplyProgress
    from reconciler.report import ApplyReport, StepOutcome, StepStatus
    from reconciler.state.inputs import Inputs
    from reconciler.workato.client import WorkatoClient

__all__ = ["apply"]


@click.command("apply")
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (required without a TTY).")
@click.option("--target", "targets", multiple=True, metavar="ADDR", help="As for `rlcm plan`.")
@click.option("--prune", is_flag=True, help="Also delete manifests no longer in the config.")
@click.option("--no-refresh-targets", is_flag=True, help="Do not read target folders first.")
@click.option(
    "--force", is_flag=True, help="Allow both thresholds: --allow-delete and --allow-wide-wave."
)
@click.option("--allow-delete", is_flag=True, help="Allow a plan that deletes manifests.")
@click.option(
    "--allow-wide-wave",
    is_flag=True,
    help="Allow a first wave that re-imports into more deployed targets than the safety share.",
)
@click.option(
    "--allow-unrecorded-create",
    is_flag=True,
    help="Create a manifest again although an earlier create of it was never recorded.",
)
@click.option(
    "--wave",
    metavar="NAME",
    help="Run only this wave (its imports and what they need), once the earlier waves' "
    "gates pass: one CI job per wave.",
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the result to FILE: .json, .md or .xml (JUnit). Repeatable.",
)
@click.option(
    "--max-duration",
    metavar="DURATION",
    default=None,
    help=(
        "Start no step that would end after this long (e.g. 5h30m, 90m, 45s): jobs in "
        "flight finish and are recorded, then exit 4; run apply again to continue."
    ),
)
@click.option(
    "--rollback-to",
    type=click.IntRange(min=1),
    metavar="SERIAL",
    help="As for `rlcm plan`: apply the packages recorded at state serial SERIAL.",
)
@format_option
@common_options
def apply(
    opts: GlobalOptions,
    planfile: Path | None,
    auto_approve: bool,
    targets: tuple[str, ...],
    prune: bool,
    no_refresh_targets: bool,
    force: bool,
    allow_delete: bool,
    allow_wide_wave: bool,
    allow_unrecorded_create: bool,
    wave: str | None,
    reports: tuple[Path, ...],
    output_format: str,
    max_duration: str | None,
    rollback_to: int | None,
) -> None:
    """Apply a plan: create/update manifests, export once, import into every target.

    Without PLANFILE it plans first, shows the plan and asks for confirmation; with
    PLANFILE it applies exactly that saved plan, or refuses it when state or live
    Workato moved since it was made. With --wave NAME (or a plan saved with `rlcm plan
    --wave NAME`) it runs that wave only, and only when the earlier waves passed their
    gates. Exit 0 all succeeded, 3 some imports failed or a gate halted, 4 stopped at
    --max-duration (run again to continue; 3 wins when both apply), 1 error.
    """
    from reconciler.cli.common import load_checked_inputs, run_async, warn
    from reconciler.render.report_file import prepare_report_paths
    from reconciler.state.identity import check_source

    limit = None if max_duration is None else parse_duration(max_duration)
    deadline = None if limit is None else time.monotonic() + limit
    prepare_report_paths(reports)  # before anything is read or changed
    _sigterm_interrupts()
    inputs = load_checked_inputs(opts)
    check_wave(inputs.desired, wave)
    with inputs.store.lock("apply") as held:
        if held.warning:
            warn(opts, held.warning)
        inputs.state = inputs.store.read()  # what the lock now protects
        check_source(inputs.state, inputs.desired, inputs.store.where)
        session = _Session(opts, inputs, planfile, targets, prune, not no_refresh_targets)
        session.wave = wave
        session.rollback_to = rollback_to
        session.plan_stream = sys.stdout if output_format == "text" else sys.stderr
        session.deadline, session.max_duration = deadline, max_duration or ""
        try:
            given = {
                "--allow-delete": allow_delete,
                "--allow-wide-wave": allow_wide_wave,
                "--allow-unrecorded-create": allow_unrecorded_create,
                "--force": force,
            }
            allowed = _allowed([flag for flag, on in given.items() if on])
            report = run_async(session.run(auto_approve=auto_approve, allowed=allowed))
        except asyncio.CancelledError:  # the second Ctrl-C
            raise _aborted() from None
    if report is None:  # no changes: CI still finds the reports it uploads, empty
        _write_empty_reports(reports, list(inputs.desired.rollout.waves))
        return
    _emit(opts, report, output_format, reports)
    raise SystemExit(report.exit_code)


def _allowed(flags: list[str]) -> dict[str, str]:
    """Safety rule -> the flag given that allows it (reconciler/plan/safety.py FLAGS)."""
    from reconciler.plan.safety import FLAGS

    return {
        rule: next(f for f in names if f in flags)
        for rule, names in FLAGS.items()
        if any(f in flags for f in names)
    }


def parse_duration(text: str) -> float:
    """Seconds of `5h30m`, `90m`, `45s`, `2h`, `1h15m30s` (a bare number is seconds)."""
    import re

    from reconciler.errors import RlcmError

    cleaned = text.strip().lower().replace(" ", "")
    match = re.fullmatch(
        r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", cleaned
    )
    if not cleaned or match is None:
        raise RlcmError(f"--max-duration {text!r}: expected a duration such as 5h30m, 90m or 45s")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise RlcmError(f"--max-duration {text!r}: must be longer than zero")
    return total


def _aborted() -> Exception:
    from reconciler.errors import RlcmError

    error = RlcmError(
        "apply aborted by a second Ctrl-C: every job already started is recorded in state; "
        "run `rlcm apply` again to poll them and finish"
    )
    error.exit_code = 130  # as a shell reports an interrupted command
    return error


class _Session:
    """Plan (or load and check a saved plan), confirm, check safety, run."""

    def __init__(
        self,
        opts: GlobalOptions,
        inputs: Inputs,
        planfile: Path | None,
        targets: tuple[str, ...],
        prune: bool,
        refresh_targets: bool,
    ) -> None:
        self.opts, self.inputs, self.planfile = opts, inputs, planfile
        self.targets, self.prune, self.refresh_targets = targets, prune, refresh_targets
        self.plan_stream: TextIO = sys.stdout
        self.wave: str | None = None
        self.full: Plan | None = None  # every wave's changes, when one wave runs
        self.deadline: float | None = None
        self.max_duration = ""
        self.rollback_to: int | None = None

    async def run(self, *, auto_approve: bool, allowed: dict[str, str]) -> ApplyReport | None:
        from reconciler.applier.session import apply_plan
        from reconciler.cli.workflow import open_clients

        async with open_clients(self.inputs.desired, self.inputs.state.quotas) as clients:
            plan = await self._plan(clients)
            if plan.is_empty:
                where = f" in wave {plan.wave}" if plan.wave else ""
                message = f"No changes{where}. Live Workato matches the config."
                click.echo(message, file=self.plan_stream)
                return None
            # bakes first: a health gate asked again and passed now lets the wave gate pass
            blocked = await self._earlier_bakes(plan, clients) or self._earlier_waves(plan)
            if blocked is not None:
                return blocked
            self._check_safety(plan, allowed)
            self._first_apply_note(plan)
            self._say_estimate(plan)
            if self.planfile is None:
                self._confirm(plan, auto_approve)
            self._remember_targets()
            with (
                _interrupts() as stop,
                _progress(self.opts) as progress,
                _quota_waits(clients, progress),
            ):
                return await apply_plan(
                    self.inputs,
                    clients,
                    plan,
                    progress=progress,
                    stop=stop,
                    deadline=self.deadline,
                    max_duration=self.max_duration,
                )

    async def _plan(self, clients: dict[str, WorkatoClient]) -> Plan:
        from reconciler.cli.common import end_progress_line, read_progress, render_plan
        from reconciler.cli.workflow import (
            check_saved_plan,
            check_saved_plan_state,
            load_saved_plan,
            refresh_and_plan,
        )

        if self.planfile is not None:
            saved = load_saved_plan(self.planfile)
            check_saved_plan_state(saved, self.inputs.state)
            plan, live, _ = await refresh_and_plan(
                self.inputs,
                clients,
                refresh_targets=saved.refreshed_targets,
                on_read=read_progress(self.opts),
                rollback_to=saved.rollback_to,
            )
            end_progress_line()
            check_saved_plan(saved, self.inputs.state, live, self.inputs.desired)
            self.full = plan
            self.wave = self.wave or saved.wave
            if self.wave is not None and saved.wave != self.wave:
                saved = saved.for_wave(self.wave)
            return saved
        plan, _, _ = await refresh_and_plan(
            self.inputs,
            clients,
            prune=self.prune,
            targets=self.targets,
            refresh_targets=self.refresh_targets,
            on_read=read_progress(self.opts),
            rollback_to=self.rollback_to,
        )
        end_progress_line()
        if self.wave is not None:
            self.full, plan = plan, plan.for_wave(self.wave)
        for message in plan.warnings:
            click.echo(f"Warning: {message}", err=True)
        if not plan.is_empty and not self.opts.quiet:
            render_plan(plan, "text", self.plan_stream, color=self.opts.color)
        return plan

    def _earlier_waves(self, plan: Plan) -> ApplyReport | None:
        """One wave of a rollout run on its own: the earlier waves' gates, as one apply
        would have asked them. Blocked, nothing runs and the report says why (exit 3)."""
        from reconciler.plan.wave_gate import earlier_wave_block

        if plan.wave is None or self.full is None:
            return None
        waves = self.inputs.desired.rollout.waves
        block = earlier_wave_block(self.full, self.inputs.state, waves, plan.wave)
        if block is None:
            return None
        return _blocked_report(plan, waves, block.wave, block.reason, block.skip_message)

    async def _earlier_bakes(
        self, plan: Plan, clients: dict[str, WorkatoClient]
    ) -> ApplyReport | None:
        """An earlier wave with a bake: wait for what is left of it, then check its health,
        as one apply would have before starting this wave (applier/health.py).

        With `--wave`, every earlier wave's bake and health are asked again. Without, the
        waves before the first one this plan imports into whose bake is still to be done
        (`baked: false`: its apply was killed or reached --max-duration meanwhile, or ran
        that wave alone). A bake that would end after --max-duration is not waited out:
        nothing starts, exit 4.

        An earlier wave whose health gate failed (`passed: false`) with nothing left to
        import has its health asked again, by every apply: the recipes may have been fixed
        since. Healthy now, the wave passes (recorded); still unhealthy, nothing starts
        (exit 3). A wave with imports still planned is left to the wave gate."""
        from reconciler.applier.gates import Gates
        from reconciler.applier.health import HealthTarget, bake_left, check_health, wait_bake
        from reconciler.config.desired import HealthSpec
        from reconciler.plan.estimate import format_duration

        desired, state = self.inputs.desired, self.inputs.state
        rollout = desired.rollout
        first = plan.wave or _first_wave(plan, rollout.waves)
        if first is None or first not in rollout.waves:
            return None
        members = {w: [t.address for t in desired.targets_in_wave(w)] for w in rollout.waves}
        gates = Gates.of(rollout, members)
        full = self.full or plan
        for earlier in rollout.waves[: rollout.waves.index(first)]:
            spec, record = rollout.gate(earlier), state.waves.get(earlier)
            if spec.bake is None or record is None or _imports_in(full, earlier):
                continue
            again = not record.passed  # its health gate failed: ask it again
            if not again and plan.wave is None and record.baked:
                continue
            left = bake_left(record.finished_at, spec.bake)
            if self.deadline is not None and left > self.deadline - time.monotonic():
                why = (
                    f"the bake of wave {earlier} ends in {format_duration(left)}, after "
                    f"--max-duration {self.max_duration}"
                )
                return _deadline_report(plan, rollout.waves, self.max_duration, why)
            if left > 0 and not self.opts.quiet:
                click.echo(f"Waiting {left:.0f}s for the bake of wave {earlier} to end.", err=True)
            await wait_bake(left, asyncio.Event())
            targets = [
                HealthTarget(t.address, t.workspace, t.customer, t.folder_id)
                for t in desired.targets_in_wave(earlier)
                if again or t.address not in record.failed_targets
            ]
            unhealthy = await check_health(targets, state, clients, spec.health or HealthSpec())
            failed = [] if again else record.failed_targets
            halt = gates.after_health(earlier, failed, unhealthy, [first])
            if halt is not None:
                skip = halt.skip_message
                return _blocked_report(plan, rollout.waves, earlier, halt.reason, skip, "health")
            # written with the apply's first record: the next apply need not ask again
            update: dict[str, object] = {"baked": True}
            if again:
                update |= {"passed": True, "failed_targets": sorted(unhealthy)}
            state.waves[earlier] = record.model_copy(update=update)
        return None

    def _say_estimate(self, plan: Plan) -> None:
        """Before anything starts: how long it takes at least, and against the deadline."""
        from reconciler.plan.estimate import estimate_apply, format_duration

        estimate = estimate_apply(self.inputs.desired, plan.changes, self.inputs.state.quotas)
        if estimate is None or self.opts.quiet:
            return
        line = f"Estimated apply time: {estimate.text} (at the configured quotas)"
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if estimate.seconds > left:
                line += (
                    f"; more than --max-duration {self.max_duration} leaves "
                    f"({format_duration(left)}): expect exit 4 and run apply again"
                )
        click.echo(line, err=True)

    def _remember_targets(self) -> None:
        """Targets resolved from Workato (folder paths, environments, generated fleets) go
        into state with the apply's first write, imported or not: the next plan does not
        look them up again (live/targets.py)."""
        from reconciler.live.targets import resolved_record

        for target in self.inputs.desired.targets.values():
            resolved = target.folder_path is not None or target.environment or target.fleet
            if resolved and target.folder_id:
                self.inputs.state.targets[target.address] = resolved_record(
                    target, target.folder_id
                )

    def _check_safety(self, plan: Plan, allowed: dict[str, str]) -> None:
        from reconciler.errors import UnsafePlanError
        from reconciler.plan.safety import unsafe_rules

        desired = self.inputs.desired
        waves = {t.address: t.wave for t in desired.targets.values()}
        broken = unsafe_rules(plan, self.inputs.state, desired.rollout.safety, waves)
        refused = [u for u in broken if not allowed.get(u.rule)]
        if refused:
            raise UnsafePlanError(
                "plan breaks a safety rule: " + "; ".join(u.text() for u in refused)
            )
        for unsafe in broken:
            flag = allowed[unsafe.rule]
            click.echo(f"Warning: applying with {flag} although {unsafe.reason}", err=True)

    def _first_apply_note(self, plan: Plan) -> None:
        from reconciler.plan.planner import first_apply_note

        note = first_apply_note(plan, self.inputs.state)
        if note is not None and not self.opts.quiet:
            click.echo(f"Note: {note}", err=True)

    def _confirm(self, plan: Plan, auto_approve: bool) -> None:
        from reconciler.errors import RlcmError

        if auto_approve:
            return
        if not sys.stdin.isatty():
            raise RlcmError("not on a terminal: pass --auto-approve to apply without asking")
        if not click.confirm("\nApply these changes?", default=False):
            raise RlcmError("apply cancelled; nothing was changed")


def _sigterm_interrupts() -> None:
    """Outside the run, SIGTERM (a CI cancel) is a Ctrl-C: whoever handles SIGINT then
    (asyncio, or Python's KeyboardInterrupt) handles it, so the lock is released on the
    way out and the exit code is 130, instead of dying with the lock held."""

    def on_sigterm(signum: int, frame: object) -> None:
        signal.raise_signal(signal.SIGINT)

    with contextlib.suppress(ValueError):  # not the main thread (tests)
        signal.signal(signal.SIGTERM, on_sigterm)


SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _interrupts() -> Iterator[asyncio.Event]:
    """First Ctrl-C or SIGTERM (a CI cancel): start nothing new, let in-flight jobs finish
    and record them. A second one: abort at once (state still holds every job id already
    started)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.current_task()
    presses = 0

    def on_signal(name: str) -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            which = "" if name == "SIGINT" else f" ({name})"
            click.echo(
                f"\nStopping{which}: no new steps start; in-flight jobs finish and are "
                "recorded. Press Ctrl-C again to abort.",
                err=True,
            )
            stop.set()
        elif task is not None:
            task.cancel()

    from reconciler.state.critical import signals_deferred

    try:
        with signals_deferred():  # no moment with SIGTERM's default disposition (death)
            for sig in SIGNALS:
                loop.add_signal_handler(sig, on_signal, sig.name)
    except (NotImplementedError, RuntimeError):  # not the main thread (tests), or Windows
        yield stop
        return
    try:
        yield stop
    finally:
        with signals_deferred():
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
            _sigterm_interrupts()  # removing the handler restored SIGTERM's default


@contextlib.contextmanager
def _quota_waits(clients: dict[str, WorkatoClient], progress: ApplyProgress) -> Iterator[None]:
    """While a quota bucket waits on Workato (a 429), the progress line says so."""
    from reconciler.workato.limits import QuotaWait

    def heard(event: QuotaWait) -> None:
        progress.waiting(event.bucket, event.until, event.reason)

    lists = {id(c.quota_listeners): c.quota_listeners for c in clients.values()}
    for listeners in lists.values():
        listeners.append(heard)
    try:
        yield
    finally:
        for listeners in lists.values():
            listeners.remove(heard)


@contextlib.contextmanager
def _progress(opts: GlobalOptions) -> Iterator[ApplyProgress]:
    """Live per-wave counts on a terminal, timestamped lines otherwise, on stderr."""
    from reconciler.render.progress import NullProgress, make_progress

    progress: ApplyProgress = NullProgress()
    if not opts.quiet:
        progress = make_progress(sys.stderr, interactive=sys.stderr.isatty())
    try:
        yield progress
    finally:
        progress.close()


def check_wave(desired: DesiredState, wave: str | None) -> None:
    from reconciler.errors import RlcmError

    waves = desired.rollout.waves
    if wave is not None and wave not in waves:
        raise RlcmError(f"--wave {wave}: the rollout has no such wave (waves: {', '.join(waves)})")


def _imports_in(plan: Plan, wave: str) -> bool:
    """Whether the plan still imports into (or starts recipes in) `wave`."""
    kinds = ("import", "recipes")
    return any(c.kind in kinds and c.action != "forget" and c.wave == wave for c in plan.changes)


def _first_wave(plan: Plan, waves: tuple[str, ...]) -> str | None:
    """The first wave, in rollout order, that this plan imports into."""
    kinds = ("import", "recipes")
    used = {c.wave for c in plan.changes if c.kind in kinds and c.action != "forget"}
    return next((w for w in waves if w in used), None)


def _unstarted(plan: Plan, status: StepStatus, message: str) -> list[StepOutcome]:
    """Every step of the plan, not started: `status` and why."""
    from reconciler.report import StepOutcome

    return [StepOutcome.of(c, status, message=message) for c in plan.changes]


def _deadline_report(
    plan: Plan, waves: tuple[str, ...], max_duration: str, why: str
) -> ApplyReport:
    """The report of an apply that could not start before its deadline: each step
    interrupted, naming why (exit 4: run again to continue)."""
    from reconciler.applier.recorder import now_iso
    from reconciler.report import ApplyReport

    now = now_iso()
    steps = _unstarted(
        plan, "interrupted", f"not started: {why}; run `rlcm apply` again to continue"
    )
    deadline = (
        f"stopped at the --max-duration deadline ({max_duration}): {len(steps)} step(s) not "
        f"started ({why}); run `rlcm apply` again to continue"
    )
    return ApplyReport(steps=steps, started_at=now, finished_at=now, waves=list(waves),
                       deadline=deadline)  # fmt: skip


def _blocked_report(
    plan: Plan, waves: tuple[str, ...], after: str, reason: str, skip: str, by: str = "wave"
) -> ApplyReport:
    """The report of a wave that did not start: each of its steps skipped, naming why."""
    from reconciler.applier.recorder import now_iso
    from reconciler.report import ApplyReport

    now = now_iso()
    steps = _unstarted(plan, "skipped", skip)
    return ApplyReport(
        steps=steps,
        started_at=now,
        finished_at=now,
        waves=list(waves),
        halted_after_wave=after,
        halt_reason=reason,
        halted_by=by,
    )


def _write_empty_reports(paths: tuple[Path, ...], waves: list[str]) -> None:
    from reconciler.applier.recorder import now_iso
    from reconciler.render.report_file import write_report
    from reconciler.report import ApplyReport

    now = now_iso()
    for path in paths:
        write_report(ApplyReport(steps=[], started_at=now, finished_at=now, waves=waves), path)


def _emit(
    opts: GlobalOptions, report: ApplyReport, output_format: str, paths: tuple[Path, ...]
) -> None:
    from reconciler.render import report_json, report_markdown, report_text
    from reconciler.render.report_file import write_report

    for path in paths:
        write_report(report, path)
    if opts.quiet and output_format == "text":
        return
    renderer = {"json": report_json, "markdown": report_markdown}.get(output_format, report_text)
    if output_format == "text":
        click.echo("")
    renderer.render(report, sys.stdout, color=opts.color and output_format == "text")

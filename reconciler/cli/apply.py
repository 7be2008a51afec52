"""`rlcm apply [PLANFILE]`: make live match the config, and report every recipe's result."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from reconciler.cli.common import format_option
from reconciler.cli.options import GlobalOptions, common_options

if TYPE_CHECKING:
    from reconciler.plan import Plan
    from reconciler.render.progress import ApplyProgress
    from reconciler.report import ApplyReport
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
    reports: tuple[Path, ...],
    output_format: str,
    max_duration: str | None,
    rollback_to: int | None,
) -> None:
    """Apply a plan: create/update manifests, export once, import into every target.

    Without PLANFILE it plans first, shows the plan and asks for confirmation; with
    PLANFILE it applies exactly that saved plan, or refuses it when state or live
    Workato moved since it was made. Exit 0 all succeeded, 3 some imports failed, 4
    stopped at --max-duration (run again to continue), 1 error.
    """
    import time

    from reconciler.cli.common import load_checked_inputs, run_async, warn
    from reconciler.state.identity import check_source

    limit = None if max_duration is None else parse_duration(max_duration)
    deadline = None if limit is None else time.monotonic() + limit

    _sigterm_interrupts()
    inputs = load_checked_inputs(opts)
    with inputs.store.lock("apply") as held:
        if held.warning:
            warn(opts, held.warning)
        inputs.state = inputs.store.read()  # what the lock now protects
        check_source(inputs.state, inputs.desired, inputs.store.where)
        session = _Session(opts, inputs, planfile, targets, prune, not no_refresh_targets)
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
        self.deadline: float | None = None
        self.max_duration = ""
        self.rollback_to: int | None = None

    async def run(self, *, auto_approve: bool, allowed: dict[str, str]) -> ApplyReport | None:
        from reconciler.applier.session import apply_plan
        from reconciler.cli.workflow import open_clients

        async with open_clients(self.inputs.desired, self.inputs.state.quotas) as clients:
            plan = await self._plan(clients)
            if plan.is_empty:
                click.echo("No changes. Live Workato matches the config.", file=self.plan_stream)
                return None
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
        from reconciler.cli.workflow import check_saved_plan, load_saved_plan, refresh_and_plan

        if self.planfile is not None:
            saved = load_saved_plan(self.planfile)
            plan, live, _ = await refresh_and_plan(
                self.inputs,
                clients,
                refresh_targets=saved.refreshed_targets,
                on_read=read_progress(self.opts),
                rollback_to=saved.rollback_to,
            )
            end_progress_line()
            check_saved_plan(saved, self.inputs.state, live, self.inputs.desired)
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
        for message in plan.warnings:
            click.echo(f"Warning: {message}", err=True)
        if not plan.is_empty and not self.opts.quiet:
            render_plan(plan, "text", self.plan_stream, color=self.opts.color)
        return plan

    def _say_estimate(self, plan: Plan) -> None:
        """Before anything starts: how long it takes at least, and against the deadline."""
        from reconciler.plan.estimate import estimate_apply, format_duration

        estimate = estimate_apply(self.inputs.desired, plan.changes, self.inputs.state.quotas)
        if estimate is None or self.opts.quiet:
            return
        line = f"Estimated apply time: {estimate.text} (at the configured quotas)"
        if self.deadline is not None:
            import time

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

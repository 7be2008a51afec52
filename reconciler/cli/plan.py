"""`rlcm plan`: refresh live state and show what would change, and why."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import format_option
from reconciler.cli.options import GlobalOptions, common_options

if TYPE_CHECKING:  # imported lazily at run time: `rlcm --help` stays fast
    from reconciler.live import LiveState
    from reconciler.plan import Plan
    from reconciler.state.inputs import Inputs

__all__ = ["plan"]


@click.command("plan")
@format_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 for no changes, 2 for changes, 1 on error."
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDR",
    help="Only changes matching ADDR (globs: import.*@E-acme*) and what they depend on.",
)
@click.option(
    "--wave",
    metavar="NAME",
    help="Only this wave's imports and what they need; a saved plan applies that wave only.",
)
@click.option("--prune", is_flag=True, help="Also delete manifests no longer in the config.")
@click.option(
    "--no-refresh-targets",
    is_flag=True,
    help="Do not read target folders (quick PR plans on large fleets; no target drift).",
)
@click.option(
    "--diff-content",
    is_flag=True,
    help="Also show what changed inside each package, recipe by recipe (costs one export "
    "per changed manifest; needs the last package in .rlcm/cache).",
)
@click.option(
    "--rollback-to",
    type=click.IntRange(min=1),
    metavar="SERIAL",
    help="Plan the packages recorded at state serial SERIAL (see `rlcm state history`): "
    "re-export each manifest pinned to the versions then, import into the targets then.",
)
@common_options
def plan(
    opts: GlobalOptions,
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    wave: str | None,
    prune: bool,
    no_refresh_targets: bool,
    diff_content: bool,
    rollback_to: int | None,
) -> None:
    """Refresh live state and print the changes apply would make."""
    from reconciler.cli.apply import check_wave
    from reconciler.cli.common import (
        end_progress_line,
        load_checked_inputs,
        read_progress,
        render_plan,
        run_async,
        warn,
        write_text_atomic,
    )
    from reconciler.cli.workflow import plan_now, preview_now
    from reconciler.render.plan_json import dumps_plan

    inputs = load_checked_inputs(opts)
    check_wave(inputs.desired, wave)
    # plan --out takes the lock: the saved plan is only valid for the state it saw
    locked = inputs.store.lock("plan --out") if out else contextlib.nullcontext()
    with locked as held:
        if held is not None and held.warning:
            warn(opts, held.warning)
        the_plan, live, _counts = run_async(
            plan_now(
                inputs,
                prune=prune,
                targets=targets,
                refresh_targets=not no_refresh_targets,
                on_read=read_progress(opts),
                rollback_to=rollback_to,
            )
        )
        end_progress_line()
        if wave is not None:
            the_plan = _one_wave(the_plan, inputs, wave, live)
        the_plan = _with_safety_warnings(the_plan, inputs)
        if out is not None:
            write_text_atomic(out, dumps_plan(the_plan))
    for message in the_plan.warnings:
        warn(opts, message)
    stdout = sys.stdout
    render_plan(the_plan, output_format, stdout, color=opts.color)
    if diff_content and output_format != "json":
        from reconciler.render.content import render_previews

        previews = run_async(preview_now(inputs, the_plan))
        render_previews(previews, stdout, markdown=output_format == "markdown")
    if out is not None and output_format == "text" and not opts.quiet:
        click.echo(f"\nSaved the plan to {out}; apply it exactly with `rlcm apply {out}`.")
    if detailed_exitcode and not the_plan.is_empty:
        raise SystemExit(2)


def _one_wave(full: Plan, inputs: Inputs, wave: str, live: LiveState) -> Plan:
    """The plan of one wave, warning now when the earlier waves would stop it at apply."""
    import dataclasses

    from reconciler.live.refresh import refresh_reads
    from reconciler.plan.estimate import estimate_apply
    from reconciler.plan.wave_gate import earlier_wave_block

    narrowed = full.for_wave(wave)
    reads = refresh_reads(inputs.desired, inputs.state, live)  # apply --wave refreshes too
    estimate = estimate_apply(inputs.desired, narrowed.changes, inputs.state.quotas, reads)
    narrowed = dataclasses.replace(
        narrowed, estimate=None if estimate is None else estimate.to_dict()
    )  # the wave's own, not the whole rollout's
    block = earlier_wave_block(full, inputs.state, inputs.desired.rollout.waves, wave)
    if block is None:
        return narrowed
    warning = f"apply would not start this wave yet: {block.reason}"
    return dataclasses.replace(narrowed, warnings=(*narrowed.warnings, warning))


def _with_safety_warnings(the_plan: Plan, inputs: Inputs) -> Plan:
    """Say in the plan (and so in a pull request's plan comment) what apply would refuse
    without --force, rather than let the reviewer find out when apply runs."""
    import dataclasses

    from reconciler.plan.safety import unsafe_reasons

    waves = {t.address: t.wave for t in inputs.desired.targets.values()}
    reasons = unsafe_reasons(the_plan, inputs.state, inputs.desired.rollout.safety, waves)
    if not reasons:
        return the_plan
    extra = tuple(f"apply refuses this plan: {reason}" for reason in reasons)
    return dataclasses.replace(the_plan, warnings=the_plan.warnings + extra)

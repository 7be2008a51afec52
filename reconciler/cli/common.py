"""Pieces several commands share: rendering plans, refresh progress, running async code."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from reconciler.cli.options import GlobalOptions
from reconciler.errors import RlcmError

if TYPE_CHECKING:
    from reconciler.drift import DriftReport
    from reconciler.plan import Plan
    from reconciler.state.inputs import Inputs

__all__ = [
    "FORMATS",
    "format_option",
    "load_checked_inputs",
    "read_progress",
    "render_drift",
    "render_plan",
    "run_async",
    "warn",
    "write_text_atomic",
]

T = TypeVar("T")
FORMATS = ("text", "json", "markdown")


def format_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="text for people, json for machines, markdown for pull requests.",
    )(func)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def warn(opts: GlobalOptions, message: str) -> None:
    if not opts.quiet:
        click.echo(f"Warning: {message}", err=True)


def load_checked_inputs(opts: GlobalOptions) -> Inputs:
    """Config and state, with a warning for each `sim://` directory nothing was seeded in."""
    from reconciler.cli.connect import empty_simulators
    from reconciler.cli.workflow import load_inputs, used_workspaces

    inputs = load_inputs(opts.config, opts.state_path, explicit_state=opts.state_file is not None)
    desired = inputs.desired
    for message in empty_simulators([desired.workspaces[n] for n in used_workspaces(desired)]):
        warn(opts, message)
    return inputs


def render_plan(plan: Plan, output_format: str, out: TextIO, *, color: bool = False) -> None:
    if output_format == "json":
        from reconciler.render.plan_json import render_plan_json

        render_plan_json(plan, out)
    elif output_format == "markdown":
        from reconciler.render.plan_markdown import render_plan_markdown

        render_plan_markdown(plan, out)
    else:
        from reconciler.render.plan_text import render_plan_text

        render_plan_text(plan, out, color=color)


def render_drift(report: DriftReport, output_format: str, out: TextIO, *, color: bool) -> None:
    if output_format == "json":
        from reconciler.render.drift_json import render_drift_json

        render_drift_json(report, out)
    elif output_format == "markdown":
        from reconciler.render.drift_markdown import render_drift_markdown

        render_drift_markdown(report, out)
    else:
        from reconciler.render.drift_text import render_drift_text

        render_drift_text(report, out, color=color)


CI_PROGRESS_EVERY = 100  # reads between two progress lines in CI logs


def read_progress(opts: GlobalOptions) -> Callable[[str], None] | None:
    """Refresh progress on stderr: a live counter on a terminal; in CI a timestamped line
    every 100 reads (a large fleet's refresh waits minutes on the 60/min quota)."""
    if opts.quiet:
        return None
    count = 0
    interactive = sys.stderr.isatty()

    def on_read(label: str) -> None:
        nonlocal count
        count += 1
        if interactive:
            sys.stderr.write(f"\rRefreshing live state: {count} reads ({label[:50]})\x1b[K")
        elif count % CI_PROGRESS_EVERY == 0:
            from datetime import UTC, datetime

            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            sys.stderr.write(f"{stamp} refresh: {count} reads done (last: {label})\n")
        sys.stderr.flush()

    return on_read


def end_progress_line() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def write_text_atomic(path: Path, text: str) -> None:
    import os
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise RlcmError(f"{path}: cannot write ({exc.strerror or exc})") from None

"""`rlcm drift`: read-only comparison of live Workato with what was last applied."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.common import format_option
from reconciler.cli.options import GlobalOptions, common_options

__all__ = ["drift"]

_REPORT_FORMATS = {".json": "json", ".md": "markdown", ".txt": "text"}


@click.command("drift")
@format_option
@click.option(
    "--report",
    "reports",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the findings to FILE: .json, .md or .txt. Repeatable.",
)
@click.option("--no-refresh-targets", is_flag=True, help="Do not read target folders.")
@common_options
def drift(
    opts: GlobalOptions, output_format: str, reports: tuple[Path, ...], no_refresh_targets: bool
) -> None:
    """Say what moved since the last apply, changing nothing. Exit 0 none, 2 drift, 1 error."""
    import io

    from reconciler.cli.common import (
        end_progress_line,
        read_progress,
        render_drift,
        run_async,
        write_text_atomic,
    )
    from reconciler.cli.workflow import load_inputs, read_live
    from reconciler.drift import detect_drift
    from reconciler.errors import RlcmError

    for path in reports:  # refuse a bad --report before spending API calls
        if path.suffix.lower() not in _REPORT_FORMATS:
            accepted = ", ".join(_REPORT_FORMATS)
            raise RlcmError(f"{path}: unknown report format; use one of the extensions {accepted}")
    inputs = load_inputs(
        opts.config, opts.state_path, explicit_state=opts.state_file is not None
    )  # read-only: no lock

    live = run_async(
        read_live(inputs, refresh_targets=not no_refresh_targets, on_read=read_progress(opts))
    )
    end_progress_line()
    report = detect_drift(inputs.desired, inputs.state, live)
    for path in reports:
        buffer = io.StringIO()
        render_drift(report, _REPORT_FORMATS[path.suffix.lower()], buffer, color=False)
        write_text_atomic(path, buffer.getvalue())
    if not (opts.quiet and output_format == "text"):
        render_drift(report, output_format, sys.stdout, color=opts.color)
    raise SystemExit(2 if report.has_drift else 0)

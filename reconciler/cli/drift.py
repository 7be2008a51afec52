"""`rlcm drift`: read-only comparison of live Workato with what was last applied."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import format_option
from reconciler.cli.options import GlobalOptions, common_options

if TYPE_CHECKING:
    from reconciler.state.inputs import Inputs
    from reconciler.state.model import AssetStamp

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
    from reconciler.drift.detect import missing_asset_baselines
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
    missing = missing_asset_baselines(inputs.desired, inputs.state, live)
    if missing:
        _record_asset_baselines(opts, inputs, missing)
    for path in reports:
        buffer = io.StringIO()
        render_drift(report, _REPORT_FORMATS[path.suffix.lower()], buffer, color=False)
        write_text_atomic(path, buffer.getvalue())
    if not (opts.quiet and output_format == "text"):
        render_drift(report, output_format, sys.stdout, color=opts.color)
    raise SystemExit(2 if report.has_drift else 0)


def _record_asset_baselines(
    opts: GlobalOptions, inputs: Inputs, missing: Mapping[str, list[AssetStamp]]
) -> None:
    """The only write drift makes: the first baseline of targets' non-recipe assets (the
    report's notes say so). Under the state lock; when an apply holds it, nothing is
    recorded and the next drift tries again."""
    from datetime import UTC, datetime

    from reconciler.cli.common import warn
    from reconciler.errors import RlcmError

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        with inputs.store.lock("drift") as held:
            if held.warning:
                warn(opts, held.warning)
            state = inputs.store.read()
            for target, stamps in missing.items():
                baseline = state.baselines.get(target)
                if baseline is not None and baseline.assets is None:
                    update = {"assets": stamps, "assets_read_at": now}
                    state.baselines[target] = baseline.model_copy(update=update)
            inputs.store.write(state)
    except RlcmError as exc:
        warn(opts, f"the first baseline of targets' other assets was not recorded: {exc}")

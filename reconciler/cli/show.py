"""`rlcm show PLANFILE`: render a saved plan in any format."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.common import format_option
from reconciler.cli.options import GlobalOptions, common_options

__all__ = ["show"]


@click.command("show")
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False))
@format_option
@common_options
def show(opts: GlobalOptions, planfile: Path | None, output_format: str) -> None:
    """Render a saved plan (default: rlcm.plan.json beside the config)."""
    from reconciler.cli.common import render_plan
    from reconciler.cli.workflow import load_saved_plan

    if planfile is None:
        base = opts.config if opts.config.is_dir() else opts.config.parent
        planfile = base / "rlcm.plan.json"
    plan = load_saved_plan(planfile)
    render_plan(plan, output_format, sys.stdout, color=opts.color)

"""`rlcm validate`: load and check the config offline (no network, no tokens)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.options import GlobalOptions, common_options

if TYPE_CHECKING:
    from reconciler.config.desired import DesiredState
    from reconciler.errors import ConfigError


@click.command("validate")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for machines, github for workflow annotations.",
)
@common_options
def validate(opts: GlobalOptions, output_format: str) -> None:
    """Load and check the config offline: kinds, keys, references, cycles, waves."""
    from reconciler.config import load_config
    from reconciler.errors import ConfigErrors

    try:
        loaded = load_config(opts.config)
    except ConfigErrors as exc:
        if output_format == "text":
            raise  # printed line by line on stderr by common_options, exit 1
        _report_errors(exc.errors, output_format)
        raise SystemExit(1) from None
    desired, warnings = loaded.desired, loaded.warnings
    if output_format == "json":
        click.echo(json.dumps(_json_report(True, [], warnings, summary(desired)), indent=2))
    elif output_format == "github":
        for warning in warnings:
            click.echo(_annotation("warning", warning))
        click.echo(summary_line(desired))
    elif not opts.quiet:
        for warning in warnings:
            click.echo(f"warning: {warning.message}", err=True)
        click.echo(summary_line(desired))


def _report_errors(errors: list[ConfigError], output_format: str) -> None:
    if output_format == "json":
        click.echo(json.dumps(_json_report(False, errors, [], None), indent=2))
    else:
        for error in errors:
            click.echo(_annotation("error", error))


def summary(desired: DesiredState) -> dict[str, Any]:
    """Counts for the summary: workspaces, manifests, targets per wave (in rollout order)."""
    waves = {w: len(desired.targets_in_wave(w)) for w in desired.rollout.waves}
    return {
        "workspaces": len(desired.workspaces),
        "manifests": len(desired.manifests),
        "targets": len(desired.targets),
        "waves": {w: n for w, n in waves.items() if n},
        "files": len(desired.files),
    }


def summary_line(desired: DesiredState) -> str:
    """`Valid: 1 workspace, 3 manifests, 13 targets (wave canary: 1, wave main: 12) in 5 files`"""
    counts = summary(desired)
    waves = ", ".join(f"wave {w}: {n}" for w, n in counts["waves"].items())
    parts = [
        _plural(counts["workspaces"], "workspace"),
        _plural(counts["manifests"], "manifest"),
        _plural(counts["targets"], "target") + (f" ({waves})" if waves else ""),
    ]
    return f"Valid: {', '.join(parts)} in {_plural(counts['files'], 'file')}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _json_report(
    valid: bool,
    errors: list[ConfigError],
    warnings: list[ConfigError],
    counts: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "valid": valid,
        "errors": [_json_problem(e) for e in errors],
        "warnings": [_json_problem(w) for w in warnings],
        "summary": counts,
    }


def _json_problem(error: ConfigError) -> dict[str, Any]:
    loc = error.location
    return {
        "file": loc.file if loc else None,
        "line": loc.line if loc and loc.line > 0 else None,
        "col": loc.col if loc and loc.col > 0 else None,
        "message": error.detail,
    }


def _annotation(level: str, error: ConfigError) -> str:
    """A GitHub workflow command: ::error file=F,line=L,col=C::message"""
    loc = error.location
    props = []
    if loc is not None:
        props.append(f"file={_escape_property(loc.file)}")
        if loc.line > 0:
            props += [f"line={loc.line}", f"col={loc.col}"]
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_escape_data(error.detail)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")

"""A drift report as text for people: findings grouped by class, and a summary line."""

from __future__ import annotations

from typing import TextIO

import click

from reconciler.drift import DRIFT_KINDS, DriftFinding, DriftReport
from reconciler.render.common import detail_line

__all__ = ["render_drift_text"]


def render_drift_text(report: DriftReport, out: TextIO, *, color: bool = False) -> None:
    for note in report.notes:
        out.write(f"Note: {note}.\n\n")
    for kind, title in DRIFT_KINDS.items():
        found = [f for f in report.findings if f.kind == kind]
        if not found:
            continue
        heading = f"{title[0].upper()}{title[1:]} ({len(found)}):"
        out.write((click.style(heading, bold=True) if color else heading) + "\n")
        for finding in found:
            _write(finding, out)
        out.write("\n")
    line = report.summary_line()
    if color:
        line = click.style(line, fg="yellow" if report.has_drift else "green", bold=True)
    out.write(line + "\n")


def _write(finding: DriftFinding, out: TextIO) -> None:
    out.write(f"  ! {finding.address}: {finding.message}\n")
    for detail in finding.details:
        out.write(f"      {detail_line(detail)}\n")

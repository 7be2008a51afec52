"""A plan as text for people: grouped by action, `+ ~ - ±` symbols, a summary line."""

from __future__ import annotations

from typing import TextIO

import click

from reconciler.plan import Change, Plan
from reconciler.render.common import NOT_REFRESHED, detail_line, groups, symbol

__all__ = ["render_plan_text"]

_COLOURS = {"+": "green", "~": "yellow", "±": "magenta", "-": "red"}


def render_plan_text(plan: Plan, out: TextIO, *, color: bool = False) -> None:
    """Write `plan` to `out`; ANSI colour only when `color` (the CLI decides: tty, NO_COLOR)."""
    paint = _Paint(color)
    if not plan.refreshed_targets:
        out.write(f"Note: {NOT_REFRESHED}\n\n")
    for warning in plan.warnings:
        out.write(paint(f"Warning: {warning}", "yellow") + "\n")
    if plan.warnings:
        out.write("\n")
    for title, changes in groups(plan):
        out.write(paint(f"{title}:", None, bold=True) + "\n")
        for change in changes:
            _write_change(change, out, paint)
        out.write("\n")
    if plan.estimate_text:
        out.write(f"Estimated apply time: {plan.estimate_text} (at the configured quotas)\n")
    out.write(paint(plan.summary.line(), None, bold=True) + "\n")


def _write_change(change: Change, out: TextIO, paint: _Paint) -> None:
    mark = symbol(change)
    out.write(f"  {paint(mark, _COLOURS[mark])} {change.address}\n")
    for reason in change.reasons:
        out.write(f"      # {reason}\n")
    for detail in change.details:
        line = detail_line(detail)
        out.write(f"      {paint(line[0], _COLOURS.get(line[0]))}{line[1:]}\n")
    if change.depends_on:
        out.write(f"      after: {', '.join(change.depends_on)}\n")


class _Paint:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, fg: str | None, *, bold: bool = False) -> str:
        if not self.enabled:
            return text
        return click.style(text, fg=fg, bold=bold or None)

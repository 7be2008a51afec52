"""A plan as Markdown for a pull-request comment or a CI job summary.

A summary table first, then manifests and exports, then imports per wave and per target
inside `<details>`. GitHub refuses comments over 65,536 characters: when the full plan
does not fit, targets that do not fit are summarised (counted by reason) and the comment
says so at the top.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from reconciler.plan import Change, Plan
from reconciler.render.common import (
    GITHUB_COMMENT_LIMIT,
    NOT_REFRESHED,
    detail_line,
    groups,
    md_cell,
    symbol,
)

__all__ = ["render_plan_markdown"]

_RESERVE = 600  # room kept for the "summarised" note and each wave's closing lines


def render_plan_markdown(plan: Plan, out: TextIO, *, limit: int = GITHUB_COMMENT_LIMIT) -> None:
    head = _head(plan)
    sections = [
        _section(title, changes) for title, changes in groups(plan) if not _is_import(title)
    ]
    body = "".join(sections)
    waves = [(title, changes) for title, changes in groups(plan) if _is_import(title)]
    budget = limit - len(head) - len(body) - _RESERVE * (len(waves) + 1)
    imports, shown, total = _imports(waves, budget)
    note = ""
    if shown < total:
        note = (
            f"> [!NOTE]\n> This plan is too large for one comment (GitHub's limit is "
            f"{GITHUB_COMMENT_LIMIT:,} characters): {shown:,} of {total:,} targets are shown in "
            "full, the others are summarised by reason. `rlcm show PLANFILE --format json` "
            "lists every change.\n\n"
        )
    out.write(head + note + body + imports)


def _is_import(title: str) -> bool:
    return title.startswith("Imports, wave ")


def _head(plan: Plan) -> str:
    summary = plan.summary
    rows = [f"| manifest {a} | {n} |" for a, n in summary.manifests.items()]
    rows += [f"| export | {summary.exports} |"] if summary.exports else []
    rows += [f"| import, wave {w} | {n} |" for w, n in summary.waves.items()]
    rows += [f"| recipes to {verb}, targets | {n} |" for verb, n in summary.recipes.items()]
    rows += [f"| import record to forget | {summary.forgets} |"] if summary.forgets else []
    text = f"## rlcm plan\n\n**{summary.line()}**\n\n"
    if plan.estimate_text:
        text += (
            f"Estimated apply time: {md_cell(plan.estimate_text)} (at the configured quotas)\n\n"
        )
    if rows:
        text += "| Change | Count |\n| --- | ---: |\n" + "\n".join(rows) + "\n\n"
    if not plan.refreshed_targets:
        text += f"> [!NOTE]\n> {NOT_REFRESHED}\n\n"
    for warning in plan.warnings:
        text += f"> [!WARNING]\n> {md_cell(warning)}\n\n"
    return text


def _section(title: str, changes: Sequence[Change]) -> str:
    text = f"### {title}\n\n" + _table(changes)
    detailed = [c for c in changes if c.details]
    if detailed:
        text += "<details><summary>Field-level changes and contents</summary>\n\n"
        for change in detailed:
            lines = "\n".join(detail_line(d) for d in change.details)
            text += f"`{change.address}`\n\n```diff\n{lines}\n```\n\n"
        text += "</details>\n\n"
    return text


def _table(changes: Sequence[Change], *, address: bool = True) -> str:
    rows = [
        f"| `{symbol(c)}` | `{md_cell(c.address if address else c.manifest)}` | "
        f"{md_cell('; '.join(c.reasons))} |"
        for c in changes
    ]
    return "| | Change | Why |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n\n"


def _imports(waves: Sequence[tuple[str, list[Change]]], budget: int) -> tuple[str, int, int]:
    """Per-wave, per-target blocks within `budget`; the rest summarised. -> text, shown, total."""
    text, shown, total = "", 0, 0
    for title, changes in waves:
        targets = _by_target(changes)
        total += len(targets)
        count = f"{_n(len(changes), 'import')} on {_n(len(targets), 'target')}"
        text += f"<details><summary>{title}: {count}</summary>\n\n"
        left: list[Change] = []
        for target, items in targets.items():
            block = _target_block(target, items)
            if not left and len(block) <= budget:
                text += block
                budget -= len(block)
                shown += 1
            else:
                left += items
        text += _summarised(left) + "</details>\n\n"
    return text, shown, total


def _by_target(changes: Sequence[Change]) -> dict[str, list[Change]]:
    found: dict[str, list[Change]] = {}
    for change in changes:
        found.setdefault(change.target or "", []).append(change)
    return found


def _target_block(target: str, changes: Sequence[Change]) -> str:
    count = _n(len(changes), "import")
    head = f"<details><summary><code>{md_cell(target)}</code>: {count}</summary>"
    return f"{head}\n\n{_table(changes, address=False)}</details>\n\n"


def _summarised(changes: Sequence[Change]) -> str:
    if not changes:
        return ""
    targets = len({c.target for c in changes})
    reasons = Counter(_reason_class(c) for c in changes)
    rows = "\n".join(f"| {md_cell(r)} | {n} |" for r, n in sorted(reasons.items()))
    return (
        f"Not shown: {_n(len(changes), 'import')} on {_n(targets, 'target')}, by reason:\n\n"
        f"| Reason | Imports |\n| --- | ---: |\n{rows}\n\n"
    )


def _reason_class(change: Change) -> str:
    """A reason with its ids and details dropped, so similar imports count together."""
    first = change.reasons[0] if change.reasons else "no reason"
    return re.sub(r"\d+", "N", first.split(":", 1)[0])


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"

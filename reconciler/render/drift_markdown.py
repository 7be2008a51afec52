"""A drift report as Markdown for a scheduled job's summary or an issue comment.

Counts first, then one `<details>` per class of finding; kept under GitHub's comment
limit by summarising the findings that do not fit (and saying so).
"""

from __future__ import annotations

from typing import TextIO

from reconciler.drift import DRIFT_KINDS, DriftFinding, DriftReport
from reconciler.render.common import GITHUB_COMMENT_LIMIT, md_cell

__all__ = ["render_drift_markdown"]

_RESERVE = 400


def render_drift_markdown(
    report: DriftReport, out: TextIO, *, limit: int = GITHUB_COMMENT_LIMIT
) -> None:
    head = f"## rlcm drift\n\n**{report.summary_line()}**\n\n"
    counts = report.counts()
    if counts:
        rows = "\n".join(f"| {DRIFT_KINDS[k]} | {n} |" for k, n in counts.items())
        head += f"| Finding | Count |\n| --- | ---: |\n{rows}\n\n"
    for note in report.notes:
        head += f"> [!NOTE]\n> {md_cell(note)}.\n\n"
    budget = limit - len(head) - _RESERVE * (len(counts) + 1)
    body, hidden = "", 0
    for kind, title in DRIFT_KINDS.items():
        found = [f for f in report.findings if f.kind == kind]
        if not found:
            continue
        body += f"<details><summary>{title} ({len(found)})</summary>\n\n"
        body += "| Address | Finding |\n| --- | --- |\n"
        for index, finding in enumerate(found):
            row = _row(finding)
            if len(row) > budget:
                left = len(found) - index
                hidden += left
                body += f"\n{left} more not shown.\n"
                break
            body += row
            budget -= len(row)
        body += "\n</details>\n\n"
    if hidden:
        head += (
            f"> [!NOTE]\n> This report is too large for one comment (GitHub's limit is "
            f"{GITHUB_COMMENT_LIMIT:,} characters): {hidden:,} findings are counted but not "
            "listed. `rlcm drift --format json` lists every one.\n\n"
        )
    out.write(head + body)


def _row(finding: DriftFinding) -> str:
    return f"| `{md_cell(finding.address)}` | {md_cell(finding.message)} |\n"

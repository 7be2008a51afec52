"""An apply report as Markdown, for a pull-request comment or a CI job summary.

Failures come first (they are what a reviewer needs), then one collapsed `<details>`
block per wave with a table per target. GitHub refuses comments over 65,536 characters,
so the output stays under `MAX_CHARS`: once the budget is spent, further rows are
left out and a closing note says how many and where the full report is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from reconciler.render.report_text import plural, summary_line
from reconciler.report import ApplyReport, Counts, StepOutcome

__all__ = ["MAX_CHARS", "render"]

MAX_CHARS = 65_536
# Kept free for closing tags and the truncation note, so they always fit.
_RESERVE = 1_000
_ICONS = {"succeeded": "✅", "failed": "❌", "skipped": "⏭️", "interrupted": "⏸️"}


class _Budget:
    """Collects lines until the limit, counting what it had to leave out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self.omitted: Counter[str] = Counter()

    def add(self, line: str, *, force: bool = False, what: str = "lines") -> bool:
        return self.block([line], force=force, what=what)

    def block(self, lines: list[str], *, force: bool = False, what: str = "lines") -> bool:
        """Adds all of `lines` or, when they do not fit, none (counted as one `what`)."""
        cost = sum(len(line) + 1 for line in lines)
        if not force and self.size + cost > self.limit - _RESERVE:
            self.omitted[what] += 1
            return False
        self.lines += lines
        self.size += cost
        return True

    def extend(self, lines: Iterable[str], *, force: bool = False) -> None:
        self.block(list(lines), force=force)

    def note(self) -> str:
        left_out = ", ".join(f"{count:,} {what}" for what, count in self.omitted.items())
        return (
            f"_Left out to stay under {self.limit:,} characters: {left_out}. "
            "The JSON or JUnit report (`--report`) has every step._"
        )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render(report: ApplyReport, stream: TextIO, *, color: bool = False) -> None:
    del color
    out = _Budget(MAX_CHARS)
    out.extend(_header(report), force=True)
    _failures(out, report)
    _skipped(out, report)
    for wave in report.all_waves():
        _wave_details(out, report, wave)
    if out.omitted:
        out.add("", force=True)
        out.add(out.note(), force=True)
    stream.write(out.text())


def _header(report: ApplyReport) -> list[str]:
    failed = len(report.failed_imports()) + len(report.failed_source_steps())
    not_run = sum(1 for s in report.steps if s.effective_status in ("skipped", "interrupted"))
    if report.exit_code == 0:
        verdict = "✅ all steps succeeded"
    elif failed:
        verdict = f"❌ {failed} failed"
    else:
        verdict = f"⚠️ {not_run} not run"
    lines = [
        f"## rlcm apply: {verdict}",
        "",
        summary_line(report),
        "",
        "| | succeeded | failed | skipped | interrupted |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [_count_row(f"{kind}s", c) for kind, c in report.counts_by_kind().items()]
    lines += [_count_row(f"imports, wave {w}", c) for w, c in report.counts_by_wave().items()]
    lines.append("")
    if report.halted_after_wave is not None:
        reason = report.halt_reason or f"halted after wave {report.halted_after_wave}"
        lines += [f"**Halted**: {_cell(reason)}.", ""]
    if report.deadline is not None:
        lines += [f"**Stopped**: {_cell(report.deadline)}.", ""]
    if report.interrupted:
        lines += ["**Interrupted**: steps not started were not run.", ""]
    return lines


def _count_row(label: str, counts: Counts) -> str:
    return (
        f"| {_cell(label)} | {counts.succeeded} | {counts.failed} | {counts.skipped} "
        f"| {counts.interrupted} |"
    )


def _failures(out: _Budget, report: ApplyReport) -> None:
    failed = report.failed_source_steps() + report.failed_imports()
    if not failed:
        return
    out.extend(["### Failures", "", "| target | manifest | failure |", "| --- | --- | --- |"])
    for step in failed:
        row = f"| {_cell(step.target or step.kind)} | {_cell(step.label)} | {_why(step)} |"
        out.add(row, what="failures")
    out.add("")


def _why(step: StepOutcome) -> str:
    recipes = [
        f"**{_cell(r.label)}**: `{r.import_result}` ({_cell(r.explanation)})"
        for r in step.failed_recipes()
    ]
    message = [_cell(step.message)] if step.message else []
    return "<br>".join(recipes + message) or "failed"


def _skipped(out: _Budget, report: ApplyReport) -> None:
    skipped = [s for s in report.steps if s.effective_status in ("skipped", "interrupted")]
    if not skipped:
        return
    out.extend(["### Not run", "", "| step | status | why |", "| --- | --- | --- |"])
    for step in skipped:
        why = _cell(step.message or "")
        out.add(
            f"| `{_cell(step.address)}` | {step.effective_status} | {why} |", what="steps not run"
        )
    out.add("")


def _wave_details(out: _Budget, report: ApplyReport, wave: str) -> None:
    targets = report.by_target(wave)
    if not targets:
        return
    counts = report.counts("import", wave)
    summary = (
        f"Wave {wave}: {plural(len(targets), 'target')}, "
        f"{plural(counts.succeeded, 'import')} succeeded"
    )
    if counts.failed:
        summary += f", {counts.failed} failed"
    if not out.block([f"<details><summary>{_cell(summary)}</summary>", ""], what="waves"):
        return
    for target, steps in targets.items():
        out.block(_target_table(target, steps), what="target tables")
    out.extend(["</details>", ""], force=True)


def _target_table(target: str, steps: list[StepOutcome]) -> list[str]:
    lines = [f"**{_cell(target)}**", "", "| manifest | status | recipes |", "| --- | --- | --- |"]
    for step in steps:
        status = step.effective_status
        recipes = "<br>".join(
            f"{_cell(r.label)}: `{r.import_result}`" + ("" if r.succeeded else " ❌")
            for r in step.recipes
        )
        if step.kind == "recipes":  # what was started or stopped, or Workato's reasons
            recipes = _cell(step.message or "")
        lines.append(f"| {_cell(step.label)} | {_ICONS[status]} {status} | {recipes} |")
    lines.append("")
    return lines


def _cell(text: str) -> str:
    """Text safe inside a table cell: no pipes, no newlines, no stray HTML."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\r", " ")
        .replace("\n", " ")
    )

"""An apply report for people: one block per target, failures highlighted.

Colour is plain ANSI and only when asked for (the CLI asks on a terminal without
--no-color); the words alone carry the meaning, so logs without colour lose nothing.
"""

from __future__ import annotations

from typing import TextIO

from reconciler.report import ApplyReport, Counts, RecipeOutcome, StepOutcome

__all__ = ["plural", "render", "summary_line"]

_COLORS = {"succeeded": "32", "failed": "31", "skipped": "33", "interrupted": "35"}
_MARKS = {"succeeded": "ok", "failed": "FAILED", "skipped": "skipped", "interrupted": "interrupted"}
_PAST = {"create": "created", "update": "updated", "delete": "deleted", "recreate": "recreated"}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_line(report: ApplyReport) -> str:
    """`Apply: 38 imports succeeded, 1 failed, 2 skipped across 13 targets; ...`."""
    imports = report.counts("import")
    parts = [f"{plural(imports.succeeded, 'import')} succeeded"]
    parts += _tail_counts(imports)
    text = f"Apply: {', '.join(parts)} across {plural(len(report.targets()), 'target')}"
    return f"{text}; {_exports_phrase(report)}; {_manifests_phrase(report)}."


def _tail_counts(counts: Counts) -> list[str]:
    tail = [f"{counts.failed} failed", f"{counts.skipped} skipped"]
    if counts.interrupted:
        tail.append(f"{counts.interrupted} interrupted")
    return tail


def _exports_phrase(report: ApplyReport) -> str:
    exports = report.counts("export")
    text = plural(exports.succeeded, "export")
    if exports.failed:
        text += f" ({exports.failed} failed)"
    return text


def _manifests_phrase(report: ApplyReport) -> str:
    done: dict[str, int] = {}
    for step in report.of_kind("manifest"):
        if step.effective_status == "succeeded":
            verb = _PAST.get(step.action, step.action)
            done[verb] = done.get(verb, 0) + 1
    if not done:
        return "no manifest changes"
    (first_verb, first_count), *rest = sorted(done.items())
    phrases = [f"{plural(first_count, 'manifest')} {first_verb}"]
    phrases += [f"{count} {verb}" for verb, count in rest]
    return ", ".join(phrases)


class _Writer:
    def __init__(self, stream: TextIO, color: bool) -> None:
        self.stream = stream
        self.color = color
        self.glossed: set[str] = set()  # success values explained once, where first seen

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def paint(self, text: str, status: str, *, bold: bool = False) -> str:
        if not self.color:
            return text
        code = _COLORS.get(status, "0") + (";1" if bold else "")
        return f"\033[{code}m{text}\033[0m"


def render(report: ApplyReport, stream: TextIO, *, color: bool = False) -> None:
    out = _Writer(stream, color)
    _source_steps(out, report)
    for wave in report.all_waves():
        targets = report.by_target(wave)
        if targets:
            out.line(f"Wave {wave}")
            for target, steps in targets.items():
                _target_block(out, target, steps)
            out.line()
    _halt(out, report)
    out.line(summary_line(report))


def _source_steps(out: _Writer, report: ApplyReport) -> None:
    steps = report.of_kind("manifest") + report.of_kind("export")
    if not steps:
        return
    out.line("Source")
    for step in steps:
        out.line(f"  {_status_word(out, step)} {step.address} ({step.action}){_ids(step)}")
        _message(out, step, indent=4)
    out.line()


def _target_block(out: _Writer, target: str, steps: list[StepOutcome]) -> None:
    out.line(f"  {target}")
    for step in steps:
        out.line(f"    {_status_word(out, step)} {step.label}{_ids(step)}{_duration(step)}")
        _message(out, step, indent=6)
        for recipe in step.recipes:
            out.line(_recipe_line(out, recipe))


# success values in plain words, once per report: Workato's names read like riddles
_SUCCESS_GLOSS = {
    "no_update_or_update_without_restart": "imported; no restart was needed",
    "no_update_or_updated_without_restart": "imported; no restart was needed",
    "restarted": "imported and restarted",
}


def _recipe_line(out: _Writer, recipe: RecipeOutcome) -> str:
    if recipe.succeeded:
        gloss = _SUCCESS_GLOSS.get(recipe.import_result)
        if gloss is None or recipe.import_result in out.glossed:
            return f"        {recipe.label}: {recipe.import_result}"
        out.glossed.add(recipe.import_result)
        return f"        {recipe.label}: {recipe.import_result} ({gloss})"
    result = out.paint(recipe.import_result, "failed", bold=True)
    return f"      ! {recipe.label}: {result} ({recipe.explanation})"


def _status_word(out: _Writer, step: StepOutcome) -> str:
    status = step.effective_status
    return out.paint(f"[{_MARKS[status]}]", status, bold=status != "succeeded")


def _message(out: _Writer, step: StepOutcome, *, indent: int) -> None:
    if step.message:
        label = {"skipped": "why", "succeeded": "done"}.get(step.effective_status, "error")
        out.line(f"{' ' * indent}{label}: {step.message}")


def _ids(step: StepOutcome) -> str:
    ids = [
        f"{name} {value}"
        for name, value in (
            ("manifest", step.manifest_id if step.kind == "manifest" else None),
            ("package", step.package_id),
            ("import", step.import_id),
        )
        if value is not None
    ]
    return f" [{', '.join(ids)}]" if ids else ""


def _duration(step: StepOutcome) -> str:
    return f" ({step.duration_s:.1f}s)" if step.duration_s is not None else ""


def _halt(out: _Writer, report: ApplyReport) -> None:
    if report.halted_after_wave is not None:
        reason = report.halt_reason or f"halted after wave {report.halted_after_wave}"
        out.line(out.paint(f"Halted: {reason}.", "failed"))
    if report.deadline is not None:
        out.line(out.paint(f"Stopped: {report.deadline}.", "interrupted"))
    if report.interrupted:
        out.line(out.paint("Interrupted: steps not started were not run.", "interrupted"))

"""An apply report as JUnit XML, so CI systems show recipe results natively.

Layout (as GitHub's dorny/test-reporter and GitLab's junit reports read it):

    <testsuites>                       totals of everything below
      <testsuite name="wave canary">   one per wave, in rollout order
        <testcase classname="acme.crm-sync" name="Sync accounts">   one per recipe
          <failure message="import_result: stopped" type="stopped">explanation</failure>
      <testsuite name="source workspace">   failed manifest changes and exports

An import with no recipe results (one of connections only, or one that failed before
any recipe) is one testcase named `import`; so is a failed import none of whose listed
recipes failed, so the failure is never lost. Skipped steps carry `<skipped>`,
interrupted ones `<error>`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TextIO

from reconciler.report import ApplyReport, RecipeOutcome, StepOutcome

__all__ = ["render"]

# XML 1.0 cannot carry most control characters, even escaped; API messages might.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class _Case:
    classname: str
    name: str
    time: float
    outcome: tuple[str, str, str, str] | None = None  # tag, message, type, text


@dataclass
class _Suite:
    name: str
    cases: list[_Case] = field(default_factory=list)

    def count(self, tag: str) -> int:
        return sum(1 for case in self.cases if case.outcome and case.outcome[0] == tag)

    @property
    def time(self) -> float:
        return sum(case.time for case in self.cases)


def render(report: ApplyReport, stream: TextIO, *, color: bool = False) -> None:
    del color
    suites = [_wave_suite(report, wave) for wave in report.all_waves()]
    suites.append(_source_suite(report))
    root = _element(
        "testsuites",
        name="rlcm apply",
        **_totals([s for s in suites if s.cases]),
    )
    for suite in suites:
        if suite.cases:
            root.append(_suite_element(suite))
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")


def _wave_suite(report: ApplyReport, wave: str) -> _Suite:
    suite = _Suite(f"wave {wave}")
    for target, steps in report.by_target(wave).items():
        for step in steps:
            suite.cases += _import_cases(target, step)
    return suite


def _import_cases(target: str, step: StepOutcome) -> list[_Case]:
    if step.kind == "recipes":  # one case: the target's recipes started (stopped) or not
        return [
            _Case(f"{target}.recipes", step.action, step.duration_s or 0.0, _step_outcome(step))
        ]
    classname = f"{target}.{step.manifest}"
    duration = step.duration_s or 0.0
    recipes = step.recipes
    cases = [
        _Case(classname, r.label, duration / len(recipes), _recipe_outcome(r)) for r in recipes
    ]
    if not recipes or (step.failed and not step.failed_recipes()):
        time = 0.0 if recipes else duration
        cases.append(_Case(classname, "import", time, _step_outcome(step)))
    elif step.effective_status in ("skipped", "interrupted"):
        cases.append(_Case(classname, "import", 0.0, _step_outcome(step)))
    return cases


def _source_suite(report: ApplyReport) -> _Suite:
    suite = _Suite("source workspace")
    for step in report.steps:
        if step.kind in ("manifest", "export") and step.effective_status != "succeeded":
            suite.cases.append(
                _Case(step.kind, step.manifest, step.duration_s or 0.0, _step_outcome(step))
            )
    return suite


def _recipe_outcome(recipe: RecipeOutcome) -> tuple[str, str, str, str] | None:
    if recipe.succeeded:
        return None
    result = recipe.import_result
    return ("failure", f"import_result: {result}", result, recipe.explanation)


def _step_outcome(step: StepOutcome) -> tuple[str, str, str, str] | None:
    status = step.effective_status
    message = step.message or f"{step.kind} {status}"
    if status == "failed":
        return ("failure", message, f"{step.kind}_failed", message)
    if status == "skipped":
        return ("skipped", message, "", "")
    if status == "interrupted":
        return ("error", message, "interrupted", message)
    return None


def _totals(suites: list[_Suite]) -> dict[str, str]:
    return {
        "tests": str(sum(len(s.cases) for s in suites)),
        "failures": str(sum(s.count("failure") for s in suites)),
        "errors": str(sum(s.count("error") for s in suites)),
        "skipped": str(sum(s.count("skipped") for s in suites)),
        "time": _seconds(sum(s.time for s in suites)),
    }


def _suite_element(suite: _Suite) -> ET.Element:
    element = _element("testsuite", name=suite.name, **_totals([suite]))
    for case in suite.cases:
        element.append(_case_element(case))
    return element


def _case_element(case: _Case) -> ET.Element:
    element = _element(
        "testcase", classname=case.classname, name=case.name, time=_seconds(case.time)
    )
    if case.outcome is not None:
        tag, message, kind, text = case.outcome
        attrs = {"message": message, "type": kind} if kind else {"message": message}
        child = _element(tag, **attrs)
        if text:
            child.text = _clean(text)
        element.append(child)
    return element


def _element(tag: str, **attrs: str) -> ET.Element:
    return ET.Element(tag, {key: _clean(value) for key, value in attrs.items()})


def _clean(text: str) -> str:
    return _NOT_XML.sub("?", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"

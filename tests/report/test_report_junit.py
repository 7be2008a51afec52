"""The JUnit report: parsed back as CI systems would read it."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from reconciler.render import report_junit
from reconciler.report import ApplyReport, StepOutcome


def _parse(report: ApplyReport) -> ET.Element:
    out = io.StringIO()
    report_junit.render(report, out)
    assert out.getvalue().startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(out.getvalue().split("\n", 1)[1])


def test_a_suite_per_wave_with_correct_counts(demo_report: ApplyReport) -> None:
    root = _parse(demo_report)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["wave canary", "wave main"]
    main = suites["wave main"]
    cases = main.findall("testcase")
    # 11 healthy targets x 5 cases (1 connections-only import + 4 recipes),
    # umbrella: shared-connections, Sync accounts (stopped), skipped billing-alerts.
    assert len(cases) == 11 * 5 + 3
    assert main.get("tests") == str(len(cases))
    assert (main.get("failures"), main.get("skipped"), main.get("errors")) == ("1", "1", "0")
    assert root.get("tests") == str(5 + len(cases))
    assert root.get("failures") == "1"
    total = sum(float(c.get("time", "0")) for c in root.iter("testcase"))
    assert abs(float(root.get("time", "0")) - total) < 0.01


def test_the_failing_recipe_carries_its_import_result(demo_report: ApplyReport) -> None:
    root = _parse(demo_report)
    failing = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert len(failing) == 1
    case = failing[0]
    assert case.get("classname") == "E-umbrella/2401.crm-sync"
    assert case.get("name") == "Sync accounts"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "import_result: stopped"
    assert failure.get("type") == "stopped"
    assert "not restart it" in (failure.text or "")


def test_skipped_import_says_why(demo_report: ApplyReport) -> None:
    skipped = [c for c in _parse(demo_report).iter("testcase") if c.find("skipped") is not None]
    assert [c.get("classname") for c in skipped] == ["E-umbrella/2401.billing-alerts"]
    element = skipped[0].find("skipped")
    assert element is not None
    assert "which failed" in (element.get("message") or "")


def test_failed_export_and_import_without_recipes_are_test_cases() -> None:
    steps = [
        StepOutcome(
            "export.crm-sync",
            "export",
            "export",
            "failed",
            "crm-sync",
            message="export job failed: bad\x01 asset",
        ),
        StepOutcome(
            "import.crm-sync@acme",
            "import",
            "import",
            "failed",
            "crm-sync",
            target="acme",
            wave="default",
            message="folder 1827 not found",
        ),
    ]
    root = _parse(ApplyReport(steps, "a", "b", waves=["default"]))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {("export", "crm-sync"), ("acme.crm-sync", "import")}
    failure = cases[("acme.crm-sync", "import")].find("failure")
    assert failure is not None and failure.get("message") == "folder 1827 not found"
    assert root.get("failures") == "2"

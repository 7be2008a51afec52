"""The JSON report: versioned, sorted, round-trips."""

from __future__ import annotations

import io
import json

from reconciler.render import report_json
from reconciler.report import ApplyReport


def _json(report: ApplyReport) -> str:
    out = io.StringIO()
    report_json.render(report, out)
    return out.getvalue()


def test_round_trip_gives_the_same_report(demo_report: ApplyReport) -> None:
    text = _json(demo_report)
    again = ApplyReport.from_dict(json.loads(text))
    assert again == demo_report
    assert _json(again) == text


def test_json_is_versioned_sorted_and_ends_with_newline(demo_report: ApplyReport) -> None:
    text = _json(demo_report)
    data = json.loads(text)
    assert text.endswith("}\n")
    assert data["format_version"] == 1
    assert data["exit_code"] == 3
    assert list(data) == sorted(data)
    assert data["summary"]["by_kind"]["import"] == {
        "succeeded": 37,
        "failed": 1,
        "skipped": 1,
        "interrupted": 0,
        "total": 39,
    }


def test_failing_recipe_is_in_the_json(demo_report: ApplyReport) -> None:
    steps = json.loads(_json(demo_report))["steps"]
    failed = next(s for s in steps if s["address"] == "import.crm-sync@E-umbrella/2401")
    assert failed["status"] == "failed"
    assert failed["recipes"] == [
        {
            "id": 5101,
            "position": None,
            "name": "Sync accounts",
            "import_result": "stopped",
            "succeeded": False,
        }
    ]


def test_order_does_not_depend_on_finishing_order(demo_report: ApplyReport) -> None:
    shuffled = ApplyReport(
        steps=demo_report.steps[::2] + demo_report.steps[1::2],
        started_at=demo_report.started_at,
        finished_at=demo_report.finished_at,
        waves=demo_report.waves,
    )
    assert _json(shuffled) == _json(demo_report)

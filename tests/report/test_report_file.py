"""`--report FILE`: format by extension, written atomically."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reconciler.errors import RlcmError
from reconciler.render.report_file import write_report
from reconciler.report import ApplyReport


def test_each_extension_writes_its_format(demo_report: ApplyReport, tmp_path: Path) -> None:
    for name in ("r.json", "r.md", "r.xml"):
        write_report(demo_report, tmp_path / name)
    assert json.loads((tmp_path / "r.json").read_text())["format_version"] == 1
    assert (tmp_path / "r.md").read_text().startswith("## rlcm apply")
    assert ET.parse(tmp_path / "r.xml").getroot().tag == "testsuites"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md", "r.xml"]


def test_unknown_extension_names_path_and_accepted_ones(
    demo_report: ApplyReport, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    with pytest.raises(RlcmError) as caught:
        write_report(demo_report, target)
    assert str(target) in str(caught.value)
    assert ".json, .md, .xml" in str(caught.value)
    assert not target.exists()


def test_missing_directory_is_a_clear_error(demo_report: ApplyReport, tmp_path: Path) -> None:
    with pytest.raises(RlcmError, match="cannot write the report"):
        write_report(demo_report, tmp_path / "nope" / "r.json")


def test_overwrite_replaces_the_old_report(demo_report: ApplyReport, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("old")
    write_report(demo_report, path)
    assert json.loads(path.read_text())["exit_code"] == 3

"""Refresh progress in CI logs: plain timestamped lines, never on stdout."""

from __future__ import annotations

import re

import pytest
from e2e_world import DemoWorld, RunCli

from reconciler.cli import common


def _reads(line: str) -> str:
    """The read count of one progress line."""
    found = re.search(r"refresh: (\d+) reads", line)
    assert found, line
    return found.group(1)


def test_refresh_prints_timestamped_progress_lines_in_ci(
    applied_config: DemoWorld, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "CI_PROGRESS_EVERY", 5)  # 19 reads: lines at 5, 10 and 15

    result = run_cli("plan", "--format", "json")

    lines = [ln for ln in result.stderr.splitlines() if " refresh: " in ln]
    assert [_reads(ln) for ln in lines] == ["5", "10", "15"]
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", ln) for ln in lines)
    assert "refresh:" not in result.stdout  # stdout stays machine-readable JSON


def test_quiet_plan_prints_no_progress(
    applied_config: DemoWorld, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "CI_PROGRESS_EVERY", 1)

    result = run_cli("plan", "-q")

    assert "refresh:" not in result.stderr

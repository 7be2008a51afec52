"""A drift report as JSON: `DriftReport.to_dict()` (kind `rlcm-drift`, `format_version`,
`counts`, `summary`, `findings` with `kind`, `address`, `manifest`, `target`, `message`,
`details`), keys sorted, byte-identical for identical inputs."""

from __future__ import annotations

import json
from typing import TextIO

from reconciler.drift import DriftReport

__all__ = ["dumps_drift", "render_drift_json"]


def dumps_drift(report: DriftReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_drift_json(report: DriftReport, out: TextIO) -> None:
    out.write(dumps_drift(report))

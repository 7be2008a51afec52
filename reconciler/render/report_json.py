"""An apply report as JSON (`format_version` 1, schema in docs/report-format.md)."""

from __future__ import annotations

import json
from typing import TextIO

from reconciler.report import ApplyReport

__all__ = ["render"]


def render(report: ApplyReport, stream: TextIO, *, color: bool = False) -> None:
    """Sorted keys and a trailing newline, so two reports diff cleanly; never coloured."""
    del color
    json.dump(report.to_dict(), stream, indent=2, sort_keys=True, ensure_ascii=False)
    stream.write("\n")

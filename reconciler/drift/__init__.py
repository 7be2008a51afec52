"""Read-only comparison of live state with what was last applied (detect.py), as data;
render/ writes it as text, JSON and Markdown.
"""

from reconciler.drift.detect import (
    DRIFT_FORMAT_VERSION,
    DRIFT_KINDS,
    DriftFinding,
    DriftKind,
    DriftReport,
    detect_drift,
)

__all__ = [
    "DRIFT_FORMAT_VERSION",
    "DRIFT_KINDS",
    "DriftFinding",
    "DriftKind",
    "DriftReport",
    "detect_drift",
]

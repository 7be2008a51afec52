"""Suite-wide hooks: the hardening figures, summed over pytest-xdist workers and printed last.

The hardening tests (tests/hardening/) append one JSON line per figure to the file named by
RLCM_HARDENING_FIGURES; this controller-side hook sums them. It lives here rather than in
tests/hardening/conftest.py because under xdist the controller never loads the conftest
files of subdirectories.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest

FIGURES_ENV = "RLCM_HARDENING_FIGURES"
# label, figure name, True when every count above zero is a failure of rlcm
_ROWS = (
    ("faults tried", "faults_tried", False),
    ("faults handled cleanly", "faults_handled", False),
    ("hostile inputs tried", "hostile_tried", False),
    ("hostile inputs handled cleanly", "hostile_handled", False),
    ("secret leak checks run", "leak_checks", False),
    ("secret leaks found", "leaks", True),
    ("crash trials", "crash_trials", False),
    ("crash kills landed", "crash_kills", False),
    ("duplicates found", "duplicates", True),
    ("duplicates inside the documented window", "window_duplicates", False),
    ("unrecorded manifest creates adopted", "pending_adopted", False),
    ("unrecorded manifest creates forced", "pending_forced", False),
    ("state corruptions", "corruptions", True),
)

# figures that look wrong without a word of explanation, printed under them
_NOTES = {
    "crash_kills": "a crash trial kills apply once or twice, so kills can outnumber trials",
    "window_duplicates": (
        "jobs or manifests Workato made whose answer a kill or a fault lost before rlcm "
        "recorded the id: the one documented window, bounded by what was in flight; the next "
        "run settles them, and the end state still equals a clean run's"
    ),
}


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or os.environ.get(FIGURES_ENV):
        return  # an xdist worker: the controller already chose the file (inherited env)
    fd, name = tempfile.mkstemp(prefix="rlcm-hardening-", suffix=".jsonl")
    os.close(fd)
    os.environ[FIGURES_ENV] = name
    config.stash[_FILE] = Path(name)


_FILE = pytest.StashKey[Path]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    path = terminalreporter.config.stash.get(_FILE, None)
    if path is None or not path.exists():
        return
    totals: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            totals[entry["figure"]] += int(entry["n"])
    path.unlink()
    os.environ.pop(FIGURES_ENV, None)
    if not totals:
        return
    terminalreporter.section("rlcm hardening figures")
    for label, key, bad in _ROWS:
        mark = "  <-- should be 0" if bad and totals[key] else ""
        terminalreporter.write_line(f"{label:<42} {totals[key]:>6}{mark}")
        if key in _NOTES and totals[key]:
            terminalreporter.write_line(f"  ({_NOTES[key]})")

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
    ("  of which imports (KILL between POST and record)", "window_imports", False),
    ("crash signals: KILL", "crash_kills_kill", False),
    ("crash signals: TERM", "crash_kills_term", False),
    ("crash signals: INT", "crash_kills_int", False),
    ("crash signals: INT twice", "crash_kills_int2", False),
    ("crash signals landed before rlcm started", "crash_kills_at_startup", False),
    ("lost import answers (504, drop, timeout)", "lost_import_answers", False),
    ("duplicates from lost import answers", "lost_answer_duplicates", True),
    ("import window (POST to id on disk), max ms", "import_window_ms", False),
    ("unrecorded manifest creates adopted", "pending_adopted", False),
    ("unrecorded manifest creates forced", "pending_forced", False),
    ("state corruptions", "corruptions", True),
    ("byte-flipped packages inspected", "fuzz_packages", False),
    ("byte-flipped packages refused", "fuzz_refused", False),
    ("byte-flipped exports run to their end", "fuzz_runs_ended", False),
    ("byte-flipped applies ended, lock released", "fuzz_applies", False),
)


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

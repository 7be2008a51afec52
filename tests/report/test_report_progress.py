"""Apply progress: plain lines for CI, a live table on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from reconciler.render.progress import (
    LiveProgress,
    NullProgress,
    PlainProgress,
    make_progress,
)
from reconciler.report import RecipeOutcome, StepOutcome


def _fixed_clock() -> datetime:
    return datetime(2026, 11, 23, 10, 1, 2, tzinfo=UTC)


def _ok(address: str, wave: str) -> StepOutcome:
    manifest, target = address.removeprefix("import.").split("@")
    return StepOutcome(
        address,
        "import",
        "import",
        "succeeded",
        manifest,
        target=target,
        wave=wave,
        started_at="2026-11-23T10:00:50Z",
        duration_s=12.3,
    )


def _drive(progress: PlainProgress | LiveProgress | NullProgress) -> None:
    progress.start({"canary": 1, "main": 2})
    progress.wave_started("canary")
    progress.step_started("import.crm-sync@acme", "canary")
    progress.step_finished(_ok("import.crm-sync@acme", "canary"))
    progress.wave_finished("canary")
    progress.wave_started("main")
    progress.step_started("import.crm-sync@E-umbrella/2401", "main")
    progress.step_finished(
        StepOutcome(
            "import.crm-sync@E-umbrella/2401",
            "import",
            "import",
            "failed",
            "crm-sync",
            target="E-umbrella/2401",
            wave="main",
            started_at="2026-11-23T10:01:00Z",
            duration_s=8.0,
            recipes=[RecipeOutcome(5101, "Sync accounts", "stopped")],
        )
    )
    progress.step_finished(
        StepOutcome(
            "import.billing-alerts@E-umbrella/2401",
            "import",
            "import",
            "skipped",
            "billing-alerts",
            target="E-umbrella/2401",
            wave="main",
            message="depends on import.crm-sync@E-umbrella/2401, which failed",
        )
    )
    progress.wave_finished("main")
    progress.close()


def test_plain_progress_writes_timestamped_lines() -> None:
    out = io.StringIO()
    _drive(PlainProgress(out, clock=_fixed_clock))
    lines = out.getvalue().splitlines()
    assert "2026-11-23T10:01:02Z import.crm-sync@acme succeeded (12.3s)" in lines
    assert (
        "2026-11-23T10:01:02Z import.crm-sync@E-umbrella/2401 failed (8.0s): Sync accounts: stopped"
    ) in lines
    assert any("billing-alerts@E-umbrella/2401 skipped: depends on" in line for line in lines)
    assert "2026-11-23T10:01:02Z wave main finished: 0 succeeded, 1 failed, 1 skipped" in lines
    assert "\033[" not in out.getvalue()


def test_make_progress_picks_plain_lines_without_a_terminal() -> None:
    assert isinstance(make_progress(io.StringIO(), interactive=False), PlainProgress)
    assert isinstance(make_progress(io.StringIO(), interactive=True), LiveProgress)


def test_live_progress_shows_counts_per_wave_and_failures() -> None:
    out = io.StringIO()
    progress = LiveProgress(out, force_terminal=False, width=100)
    _drive(progress)
    text = out.getvalue()
    assert "failed import.crm-sync@E-umbrella/2401" in text
    rows = {
        line.split()[1]: line.split()[2:]
        for line in text.splitlines()
        if "│" in line and line.split()[1] in ("canary", "main")
    }
    # columns: done, failed, skipped, running, queued
    assert rows["canary"][1::2] == ["1", "0", "0", "0", "0"]
    assert rows["main"][1::2] == ["0", "1", "1", "0", "0"]


def test_eta_from_mean_step_duration() -> None:
    progress = PlainProgress(io.StringIO(), clock=_fixed_clock)
    progress.start({"main": 4})
    progress.step_started("import.a@t", "main")
    progress.step_finished(_ok("import.a@t", "main"))
    assert progress.tallies.eta_seconds() == 12.3 * 3


def test_null_progress_accepts_every_call() -> None:
    _drive(NullProgress())

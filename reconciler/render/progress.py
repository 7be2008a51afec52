"""Apply progress: what the applier tells the person (or the CI log) while it runs.

The applier talks only to the `ApplyProgress` protocol; `make_progress` picks the
implementation: a rich live table on a terminal (per-wave done / failed / running /
queued and an ETA), plain timestamped lines otherwise, so CI logs stay readable and
greppable. `NullProgress` is for `--quiet` and tests.

Manifest and export steps have no wave: the applier passes `wave=None` for them and
may count them in `start()` under `SOURCE_ROW`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from reconciler.report import StepOutcome

if TYPE_CHECKING:
    from rich.live import Live

__all__ = [
    "SOURCE_ROW",
    "ApplyProgress",
    "LiveProgress",
    "NullProgress",
    "PlainProgress",
    "WaveTally",
    "make_progress",
    "waiting_text",
]

SOURCE_ROW = "source"
Clock = Callable[[], datetime]


class ApplyProgress(Protocol):
    """What the applier calls; implementations must be cheap and never raise."""

    def start(self, total_by_wave: Mapping[str, int]) -> None: ...
    def wave_started(self, wave: str) -> None: ...
    def step_started(self, address: str, wave: str | None) -> None: ...
    def step_finished(self, outcome: StepOutcome) -> None: ...
    def wave_finished(self, wave: str) -> None: ...
    def baking(self, wave: str, seconds: float) -> None: ...
    def waiting(self, bucket: str, until: float, reason: str) -> None:
        """A quota bucket waits on Workato (a 429) until `until` (time.time())."""

    def close(self) -> None: ...


def make_progress(stream: TextIO, *, interactive: bool) -> ApplyProgress:
    """A live display on a terminal, plain timestamped lines otherwise."""
    return LiveProgress(stream) if interactive else PlainProgress(stream)


class NullProgress:
    """Shows nothing."""

    def start(self, total_by_wave: Mapping[str, int]) -> None:
        pass

    def wave_started(self, wave: str) -> None:
        pass

    def step_started(self, address: str, wave: str | None) -> None:
        pass

    def step_finished(self, outcome: StepOutcome) -> None:
        pass

    def wave_finished(self, wave: str) -> None:
        pass

    def baking(self, wave: str, seconds: float) -> None:
        pass

    def waiting(self, bucket: str, until: float, reason: str) -> None:
        pass

    def close(self) -> None:
        pass


def waiting_text(bucket: str, until: float, reason: str) -> str:
    """`waiting on Workato: bucket imports until 14:00:05 UTC (429 with Retry-After 3400 s)`"""
    when = datetime.fromtimestamp(until, UTC).strftime("%H:%M:%S UTC")
    return f"waiting on Workato: bucket {bucket} until {when} ({reason})"


@dataclass
class WaveTally:
    """Counts for one wave row: total planned, and how far it got."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    running: int = 0

    @property
    def queued(self) -> int:
        return max(0, self.total - self.done - self.failed - self.skipped - self.running)

    def finish(self, outcome: StepOutcome) -> None:
        status = outcome.effective_status
        if outcome.started_at is not None or status in ("succeeded", "failed"):
            self.running = max(0, self.running - 1)
        if status == "succeeded":
            self.done += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.skipped += 1


class _Tallies:
    """Shared bookkeeping of both displays; the applier may call from several threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waves: dict[str, WaveTally] = {}
        self.durations: list[float] = []
        self.peak_running = 1

    def start(self, total_by_wave: Mapping[str, int]) -> None:
        with self.lock:
            for wave, total in total_by_wave.items():
                self.row(wave).total = total

    def row(self, wave: str | None) -> WaveTally:
        return self.waves.setdefault(wave or SOURCE_ROW, WaveTally())

    def started(self, wave: str | None) -> None:
        with self.lock:
            tally = self.row(wave)
            tally.running += 1
            tally.total = max(tally.total, tally.done + tally.failed + tally.skipped + 1)
            running = sum(t.running for t in self.waves.values())
            self.peak_running = max(self.peak_running, running)

    def finished(self, outcome: StepOutcome) -> None:
        with self.lock:
            self.row(outcome.wave).finish(outcome)
            if outcome.duration_s is not None:
                self.durations.append(outcome.duration_s)

    def eta_seconds(self) -> float | None:
        """Mean step duration times the steps left, spread over the observed parallelism."""
        if not self.durations:
            return None
        left = sum(t.queued + t.running for t in self.waves.values())
        mean = sum(self.durations) / len(self.durations)
        return mean * left / self.peak_running


class PlainProgress:
    """One timestamped line per finished step and per wave, for CI logs."""

    def __init__(self, stream: TextIO, *, clock: Clock | None = None) -> None:
        self.stream = stream
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tallies = _Tallies()

    def _line(self, text: str) -> None:
        stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.tallies.lock:
            self.stream.write(f"{stamp} {text}\n")
            self.stream.flush()

    def start(self, total_by_wave: Mapping[str, int]) -> None:
        self.tallies.start(total_by_wave)
        total = sum(total_by_wave.values())
        waves = len([w for w in total_by_wave if w != SOURCE_ROW])
        self._line(f"apply started: {_n(total, 'step')}, {_n(waves, 'wave')} of imports")

    def wave_started(self, wave: str) -> None:
        self._line(f"wave {wave} started ({_n(self.tallies.row(wave).total, 'step')})")

    def step_started(self, address: str, wave: str | None) -> None:
        # Only counted: a line per start would double a fleet's log for little gain.
        self.tallies.started(wave)

    def step_finished(self, outcome: StepOutcome) -> None:
        self.tallies.finished(outcome)
        self._line(_finished_text(outcome))

    def wave_finished(self, wave: str) -> None:
        t = self.tallies.row(wave)
        self._line(
            f"wave {wave} finished: {t.done} succeeded, {t.failed} failed, {t.skipped} skipped"
        )

    def baking(self, wave: str, seconds: float) -> None:
        self._line(f"wave {wave} baking for {seconds:g}s; its recipes' health is checked then")

    def waiting(self, bucket: str, until: float, reason: str) -> None:
        self._line(waiting_text(bucket, until, reason))

    def close(self) -> None:
        pass


def _finished_text(outcome: StepOutcome) -> str:
    status = outcome.effective_status
    duration = f" ({outcome.duration_s:.1f}s)" if outcome.duration_s is not None else ""
    text = f"{outcome.address} {status}{duration}"
    failing = [f"{r.label}: {r.import_result}" for r in outcome.failed_recipes()]
    details = "; ".join(failing + ([outcome.message] if outcome.message else []))
    return f"{text}: {details}" if details and status != "succeeded" else text


class LiveProgress:
    """A rich live table on a terminal; failures are printed above it as they happen."""

    def __init__(self, stream: TextIO, **console_options: Any) -> None:
        from rich.console import Console

        self.console = Console(file=stream, **console_options)
        self.tallies = _Tallies()
        self.started_at = time.monotonic()
        self._live: Live | None = None
        self._waiting: tuple[str, float, str] | None = None

    def start(self, total_by_wave: Mapping[str, int]) -> None:
        from rich.live import Live

        self.tallies.start(total_by_wave)
        self.started_at = time.monotonic()
        self._live = Live(
            get_renderable=self._table, console=self.console, refresh_per_second=4, transient=False
        )
        self._live.start()

    def wave_started(self, wave: str) -> None:
        self.tallies.row(wave)

    def step_started(self, address: str, wave: str | None) -> None:
        self.tallies.started(wave)

    def step_finished(self, outcome: StepOutcome) -> None:
        self.tallies.finished(outcome)
        if outcome.effective_status == "failed":
            self.console.print(f"[red bold]failed[/] {_escape(_finished_text(outcome))}")

    def wave_finished(self, wave: str) -> None:
        pass

    def baking(self, wave: str, seconds: float) -> None:
        if self._live is not None:
            self._live.console.print(f"wave {wave} baking for {seconds:g}s")

    def waiting(self, bucket: str, until: float, reason: str) -> None:
        self._waiting = (bucket, until, reason)  # shown under the table until it is over

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _table(self) -> Any:
        from rich.table import Table

        elapsed = time.monotonic() - self.started_at
        eta = self.tallies.eta_seconds()
        caption = f"elapsed {_clock(elapsed)}" + (f", ETA {_clock(eta)}" if eta is not None else "")
        if self._waiting is not None and self._waiting[1] > time.time():
            caption += "\n" + _escape(waiting_text(*self._waiting))
        table = Table(title="rlcm apply", caption=caption)
        for name in ("wave", "done", "failed", "skipped", "running", "queued"):
            table.add_column(name, justify="left" if name == "wave" else "right")
        with self.tallies.lock:
            for wave, t in self.tallies.waves.items():
                failed = f"[red]{t.failed}[/]" if t.failed else "0"
                table.add_row(
                    _escape(wave),
                    str(t.done),
                    failed,
                    str(t.skipped),
                    str(t.running),
                    str(t.queued),
                )
        return table


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"

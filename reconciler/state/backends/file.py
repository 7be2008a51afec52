"""The file backend: `rlcm.state.json` (StateStore) with its lock file and a short history.

Every written serial is also kept in `.rlcm/history/<state file name>/` beside the state, as
a hard link to the file just written (no copy: the cost of a write stays that of one
file) plus a line in `index.jsonl` (time, command, summary). Only the last `keep` serials
stay. Where the history cannot be written (no hard links, a read-only directory) the state
is written all the same and one warning says the history is off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from reconciler.errors import LockError, StateError
from reconciler.state.backends.base import (
    HistoryEntry,
    StateBackend,
    Summarizer,
    check_push,
    unknown_serial,
)
from reconciler.state.encode import Changes, encode_state
from reconciler.state.lock import HeldLock, LockInfo, read_lock, remove_lock
from reconciler.state.model import State
from reconciler.state.store import StateStore

__all__ = ["DEFAULT_FILE_HISTORY", "FileBackend"]

log = logging.getLogger(__name__)

DEFAULT_FILE_HISTORY = 20
_INDEX = "index.jsonl"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FileBackend(StateStore, StateBackend):
    """The state file at `path`; `keep` written serials in `.rlcm/history/` (0: none)."""

    def __init__(self, path: Path, *, keep: int = DEFAULT_FILE_HISTORY) -> None:
        super().__init__(path)
        self.where = f"state file {self.path}"
        self.local_dir = self.path.parent
        self.keep = keep
        self.history_dir = self.path.parent / ".rlcm" / "history" / self.path.name
        self._command = "rlcm"
        self._summarizer = Summarizer()
        self._history_off = False

    # -- state ---------------------------------------------------------------------------

    def read(self) -> State:
        state = super().read()
        self._summarizer.reset(state)
        return state

    def write(self, state: State, changed: Changes | None = None) -> None:
        summary = self._summarizer.summary(state, changed)
        super().write(state, changed)
        if self.keep > 0 and not self._history_off:
            self._keep_serial(state, summary)

    @contextlib.contextmanager
    def lock(self, command: str) -> Iterator[HeldLock]:
        with super().lock(command) as held:
            self._command = command
            try:
                yield held
            finally:
                self._command = "rlcm"

    def holder(self) -> LockInfo | None:
        return read_lock(self.lock_path)

    def unlock(self, *, force: bool) -> str:
        if force:
            existed = self.lock_path.exists()
            try:
                info = read_lock(self.lock_path)
            except LockError:  # unreadable: --force removes it all the same
                info = None
            remove_lock(self.lock_path)
            if not existed:
                return "State is not locked."
            if info is not None:
                return f"Removed the lock held by {info.describe()}."
            return "Removed the unreadable lock."
        info = read_lock(self.lock_path)
        if info is None:
            return "State is not locked."
        if not info.holder_is_gone():
            raise LockError(
                f"state is locked by {info.describe()}, which may still be running; "
                "use `rlcm state unlock --force` to remove the lock anyway"
            )
        remove_lock(self.lock_path)
        return f"Removed the lock held by {info.describe()} (that process is gone)."

    # -- history -------------------------------------------------------------------------

    def _serial_path(self, serial: int) -> Path:
        return self.history_dir / f"{serial:010d}.json"

    def _keep_serial(self, state: State, summary: str) -> None:
        entry = HistoryEntry(state.serial, state.lineage, _now(), self._command, summary)
        try:
            self.history_dir.mkdir(parents=True, exist_ok=True)
            kept = self._serial_path(state.serial)
            with contextlib.suppress(FileNotFoundError):
                kept.unlink()  # a serial written before by a run that never finished
            os.link(self.path, kept)
            self._append_index([entry])
            self._prune(state.serial)
        except OSError as exc:
            self._history_off = True
            log.warning(
                "state history off: cannot keep serials in %s (%s); the state itself is written",
                self.history_dir,
                exc.strerror or exc,
            )

    def _append_index(self, entries: list[HistoryEntry]) -> None:
        lines = "".join(json.dumps(e.to_dict(), sort_keys=True) + "\n" for e in entries)
        fd = os.open(self.history_dir / _INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)

    def _prune(self, newest: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._serial_path(newest - self.keep).unlink()
        index = self.history_dir / _INDEX
        if index.stat().st_size > 4096 and newest % self.keep == 0:  # now and then: compact
            entries = [e for e in self._index() if self._serial_path(e.serial).exists()]
            temp = index.with_name(f".{_INDEX}.{os.getpid()}.tmp")
            temp.write_text(
                "".join(json.dumps(e.to_dict(), sort_keys=True) + "\n" for e in entries)
            )
            os.replace(temp, index)

    def _index(self) -> list[HistoryEntry]:
        try:
            text = (self.history_dir / _INDEX).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError(f"cannot read the state history {self.history_dir}: {exc}") from None
        latest: dict[int, HistoryEntry] = {}
        for line in text.splitlines():
            try:
                raw = json.loads(line)
                entry = HistoryEntry(
                    int(raw["serial"]),
                    str(raw["lineage"]),
                    str(raw["written_at"]),
                    str(raw["command"]),
                    str(raw["summary"]),
                )
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash: that serial's summary is lost only
            latest[entry.serial] = entry  # a serial written again replaces the older line
        return [latest[s] for s in sorted(latest)]

    def history(self) -> list[HistoryEntry]:
        return [e for e in self._index() if self._serial_path(e.serial).exists()]

    def read_serial(self, serial: int) -> State:
        path = self._serial_path(serial)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            current = StateStore(self.path).read()
            if current.serial == serial and serial > 0:
                return current
            kept = [e.serial for e in self.history()]
            raise unknown_serial(self.where, serial, kept) from None
        except OSError as exc:
            raise StateError(f"cannot read {path}: {exc.strerror or exc}") from None
        return StateStore(path).decode(raw)

    def push(self, state: State, history: list[tuple[HistoryEntry, State]]) -> None:
        stored = self.path.exists()
        current = StateStore(self.path).read()
        check_push(self.where, current, state, stored=stored)
        if self.keep > 0 and history:
            self.history_dir.mkdir(parents=True, exist_ok=True)
            for entry, old in history[-self.keep :]:
                self._serial_path(entry.serial).write_bytes(encode_state(old))
            self._append_index([entry for entry, _ in history[-self.keep :]])
        self.replace_exactly(state)
        if self.keep > 0:
            self._keep_serial(state, "pushed")

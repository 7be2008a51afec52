"""The contract every state backend keeps (the file in git, PostgreSQL, later object stores).

A backend stores one State per config and guards it:
- `read()` the current state (a fresh empty State when there is none yet);
- `write(state)` a compare-and-swap: refused with a StateError when the stored state has
  another lineage or a higher serial than `state` was read at; on success `state.serial`
  grows by one and the written serial is kept in the history;
- `lock(command)` one writer at a time, naming its holder (user@host, pid, command, since);
  `holder()` says who holds it, `unlock(force)` repairs a lock left behind;
- `history()` the serials kept (newest last), `read_serial(n)` one of them;
- `push(state, history)` replace what is stored by a state (and its history) from elsewhere,
  keeping its lineage and serial: the migration between backends.

The planner never sees a backend, only the State it read (STYLE.md habit 6).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from reconciler.errors import StateError
from reconciler.state.encode import Changes
from reconciler.state.lock import LockInfo
from reconciler.state.model import State

__all__ = ["HeldLockLike", "HistoryEntry", "StateBackend", "Summarizer", "check_push"]


class HeldLockLike(Protocol):
    """A lock this process holds; `warning` says whose dead lock was taken over, if any."""

    @property
    def info(self) -> LockInfo: ...

    @property
    def warning(self) -> str | None: ...


@dataclass(frozen=True)
class HistoryEntry:
    """One written serial as `rlcm state history` lists it."""

    serial: int
    lineage: str
    written_at: str  # UTC, ISO 8601 with Z
    command: str
    summary: str

    def to_dict(self) -> dict[str, object]:
        return {
            "serial": self.serial,
            "lineage": self.lineage,
            "written_at": self.written_at,
            "command": self.command,
            "summary": self.summary,
        }


class StateBackend(ABC):
    """Where one config's state lives; see the module docstring for each duty."""

    #: how messages name this state ("state file rlcm.state.json", "PostgreSQL state 'prod'")
    where: str
    #: the directory holding `.rlcm/` (package cache, file history)
    local_dir: Path

    @abstractmethod
    def read(self) -> State: ...

    @abstractmethod
    def write(self, state: State, changed: Changes | None = None) -> None: ...

    @abstractmethod
    def lock(self, command: str) -> contextlib.AbstractContextManager[HeldLockLike]: ...

    @abstractmethod
    def holder(self) -> LockInfo | None:
        """Who holds the lock now (None: nobody)."""

    @abstractmethod
    def unlock(self, *, force: bool) -> str:
        """Remove a lock left behind (any lock with `force`); says what it did."""

    @abstractmethod
    def history(self) -> list[HistoryEntry]:
        """The serials kept, oldest first."""

    @abstractmethod
    def read_serial(self, serial: int) -> State:
        """The state as written at `serial`; StateError naming the kept ones otherwise."""

    @abstractmethod
    def push(self, state: State, history: list[tuple[HistoryEntry, State]]) -> None:
        """Store `state` as it is (same lineage and serial) with `history` (see check_push)."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing between calls
        """Release what the backend holds open."""

    def history_states(self) -> Iterator[tuple[HistoryEntry, State]]:
        """Every kept serial with its state, oldest first (for `rlcm state pull`)."""
        for entry in self.history():
            try:
                yield entry, self.read_serial(entry.serial)
            except StateError:
                continue  # pruned meanwhile


def check_push(where: str, current: State, incoming: State, *, stored: bool) -> None:
    """Refuse a push that would undo another history or go back in time (as Terraform's
    `state push` does): the stored state must be empty, or the same lineage at a serial
    no higher than the one pushed."""
    if not stored:
        return
    if current.lineage != incoming.lineage:
        raise StateError(
            f"{where} holds another history (lineage {current.lineage}, the pushed state has "
            f"{incoming.lineage}); refusing to replace it"
        )
    if current.serial > incoming.serial:
        raise StateError(
            f"{where} is at serial {current.serial}, newer than the pushed state's "
            f"{incoming.serial}; refusing to go back (pull it first)"
        )


def unknown_serial(where: str, serial: int, kept: list[int]) -> StateError:
    if not kept:
        return StateError(f"{where} keeps no history: serial {serial} is not available")
    shown = ", ".join(str(s) for s in kept[-10:])
    more = " ..." if len(kept) > 10 else ""
    return StateError(
        f"{where} has no serial {serial}; kept serials: {kept[0]}..{kept[-1]} ({more}{shown})"
    )


_SECTIONS = ("manifests", "packages", "imports", "pending")
_PREFIX = {"manifests": "manifest", "packages": "export", "imports": "import", "pending": "pending"}


class Summarizer:
    """The one-line summary of each write: which records changed since the last one.

    Records are replaced whole, never mutated in place (applier/recorder.py), so comparing
    the objects held by each key with those of the previous write finds every change
    cheaply, even at fleet size.
    """

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, BaseModel]] = {}

    def reset(self, state: State) -> None:
        self._seen = {s: dict(getattr(state, s)) for s in _SECTIONS}

    def summary(self, state: State, changed: Changes | None = None) -> str:
        """`changed`: the records put or removed since the last write, as the writer knows
        them (state/encode.py); only those are compared (None: every record)."""
        lines: list[str] = []
        for section in _SECTIONS:
            now: dict[str, BaseModel] = getattr(state, section)
            before = self._seen.get(section, {})
            if changed is None:
                for key, record in now.items():
                    if before.get(key) is not record:
                        lines.append(f"{_PREFIX[section]}.{key}{_status(record)}")
                gone = before.keys() - now.keys()
                lines += [f"{_PREFIX[section]}.{key} removed" for key in gone]
                self._seen[section] = dict(now)
                continue
            for key in sorted(changed.get(section, ())):
                put = now.get(key)
                if put is None:
                    if before.pop(key, None) is not None:
                        lines.append(f"{_PREFIX[section]}.{key} removed")
                elif before.get(key) is not put:
                    lines.append(f"{_PREFIX[section]}.{key}{_status(put)}")
                    before[key] = put
            self._seen[section] = before
        parts = lines[:3]
        if len(lines) > 3:
            parts.append(f"+{len(lines) - 3} more")
        return ", ".join(parts) or "no record changed"


def _status(record: BaseModel) -> str:
    status = getattr(record, "status", None)
    return f" {status}" if isinstance(status, str) else ""

"""Reading and writing the state file: refused when untrustworthy, written atomically.

A write goes to a temp file in the same directory, is fsynced, renamed over the state
file and the directory is fsynced, so a crash at any moment leaves either the old file or
the new one, never a mix. A file that cannot be parsed, fails the model or has an unknown
`format_version` is refused with a StateError and never overwritten. A write is refused
too when the file on disk was written by someone else since it was read (another lineage
or a higher serial), so two writers cannot silently undo each other.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.errors import StateError
from reconciler.state.critical import signals_deferred
from reconciler.state.encode import Changes, StateEncoder
from reconciler.state.lock import HeldLock, acquire_lock
from reconciler.state.migrate import migrate
from reconciler.state.model import FORMAT_VERSION, State

__all__ = ["StateStore"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Seen:
    """The file as this store last read or wrote it: enough to spot another writer."""

    lineage: str
    serial: int
    stamp: tuple[int, int, int, int]  # inode, device, mtime_ns, size


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size)


class StateStore:
    """The state file at `path`, and its lock at `<path>.lock`."""

    def __init__(self, path: Path) -> None:
        # a symlinked state file is written through: the link stays a link, and the lock
        # sits beside the real file (two links to one state share one lock)
        self.given = Path(path)
        self.path = Path(os.path.realpath(path)) if self.given.is_symlink() else self.given
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._encoder = StateEncoder()
        self._seen: _Seen | None = None
        self._mutex = threading.Lock()

    # -- reading -------------------------------------------------------------------------

    def read(self) -> State:
        """The state on disk; a fresh empty State when there is no file yet."""
        try:
            with self.path.open("rb") as handle:
                raw = handle.read()
                stamp = _stamp(os.fstat(handle.fileno()))
        except FileNotFoundError:
            return State()
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {_reason(exc)}") from None
        state = self.decode(raw)
        self._seen = _Seen(state.lineage, state.serial, stamp)
        return state

    def decode(self, raw: bytes) -> State:
        """The state in `raw` (the bytes of a state file), or a StateError refusing it."""
        data = self._load_json(raw)
        try:
            return State.model_validate(data)
        except ValidationError as exc:
            raise StateError(f"{self._refusal()} {_first_error(exc)}") from None

    def _load_json(self, raw: bytes) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StateError(f"{self._refusal()} it is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise StateError(f"{self._refusal()} it is not a JSON object")
        version = data.get("format_version")
        if version is None:
            raise StateError(f"{self._refusal()} it has no format_version")
        if type(version) is int and version < FORMAT_VERSION:  # (`true` is a bool, not an int)
            try:  # written in the new format at the next write
                data = migrate(data, FORMAT_VERSION)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                raise StateError(
                    f"{self._refusal()} its format_version {version} content cannot be "
                    f"migrated ({type(exc).__name__}: {exc})"
                ) from None
            log.info("state: migrated format_version=%s to %s", version, FORMAT_VERSION)
            version = data.get("format_version")
        if type(version) is not int or version != FORMAT_VERSION:  # `true` == 1 in Python
            hint = "; upgrade rlcm" if isinstance(version, int) and version > FORMAT_VERSION else ""
            raise StateError(
                f"{self._refusal()} unknown format_version {version!r} "
                f"(this rlcm reads {FORMAT_VERSION}){hint}"
            )
        return data

    def _refusal(self) -> str:
        return f"state file {self.path} is refused and left untouched:"

    # -- writing -------------------------------------------------------------------------

    def write(self, state: State, changed: Changes | None = None) -> None:
        """Increment `state.serial` and write it atomically; fast enough for every step.
        `changed`: the records put or removed since the last write (state/encode.py)."""
        with self._mutex:
            self._check_unmoved(state)
            state.serial += 1
            try:
                stamp = self._replace(self._encoder.chunks(state, changed))
            except BaseException:
                state.serial -= 1  # nothing was written: the state keeps the serial it had
                raise
            self._seen = _Seen(state.lineage, state.serial, stamp)

    def replace_exactly(self, state: State) -> None:
        """Write `state` as it is, serial included (`rlcm state push`: the caller checked)."""
        with self._mutex:
            stamp = self._replace(self._encoder.chunks(state))
            self._seen = _Seen(state.lineage, state.serial, stamp)

    def _check_unmoved(self, state: State) -> None:
        """Refuse to overwrite a file someone else wrote since `state` was read."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {_reason(exc)}") from None
        seen = self._seen
        if seen is None or seen.stamp != _stamp(st):
            seen = self._peek()
        if seen.lineage != state.lineage:
            raise StateError(
                f"state file {self.path} holds another history (lineage {seen.lineage}, "
                f"not {state.lineage}); refusing to overwrite it"
            )
        if seen.serial > state.serial:
            raise StateError(
                f"state file {self.path} was written by someone else since it was read "
                f"(serial {seen.serial} on disk, {state.serial} when read); refusing to "
                "overwrite it: run the command again"
            )

    def _peek(self) -> _Seen:
        """Lineage and serial of the file on disk, refusing one that cannot be trusted."""
        try:
            with self.path.open("rb") as handle:
                raw = handle.read()
                stamp = _stamp(os.fstat(handle.fileno()))
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {_reason(exc)}") from None
        data = self._load_json(raw)
        lineage, serial = data.get("lineage"), data.get("serial")
        if not isinstance(lineage, str) or not isinstance(serial, int):
            raise StateError(f"{self._refusal()} it has no valid lineage and serial")
        return _Seen(lineage, serial, stamp)

    def _replace(self, chunks: list[bytes]) -> tuple[int, int, int, int]:
        """Write `chunks` to a temp file beside the state and rename it over the state."""
        directory = self.path.parent
        temp = directory / f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise StateError(f"cannot write state file {self.path}: {_reason(exc)}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.writelines(chunks)
                handle.flush()
                os.fsync(handle.fileno())
                stamp = _stamp(os.fstat(handle.fileno()))
            os.replace(temp, self.path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            if isinstance(exc, OSError):
                raise StateError(
                    f"cannot write state file {self.path}: {_reason(exc)} "
                    "(the previous state is intact)"
                ) from None
            raise
        _fsync_directory(directory)
        return stamp

    # -- locking -------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, command: str) -> Iterator[HeldLock]:
        """Hold `<state>.lock` for `command`; `HeldLock.warning` tells of a takeover."""
        held: HeldLock | None = None
        try:
            with signals_deferred():  # a Ctrl-C meanwhile lands after `held` is set, so
                held = acquire_lock(self.lock_path, command)  # the finally releases it
            yield held
        finally:
            if held is not None:
                held.release()


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; some platforms cannot open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        log.debug("fsync directory: path=%s reason=%s", directory, exc)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _first_error(exc: ValidationError) -> str:
    """The first pydantic error as `path: message`, with a count of the others."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"it does not match the state format: {where}: {first['msg']}{more}"

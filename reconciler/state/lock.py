"""The state lock: one writer at a time, and a killed run never blocks the next one.

The lock is a small JSON file beside the state (`<state>.lock`) naming its holder. It is
created complete and atomically: written to a temp file, then hard-linked to the lock
name, which fails if the name exists (O_CREAT|O_EXCL semantics, without a window in which
the lock exists but is empty). Where hard links are not supported, O_CREAT|O_EXCL is used.

A lock whose holder process is gone on this host is taken over with a warning. A lock from
another host, or older than its TTL, is refused with its holder and a hint to run
`rlcm state unlock --force`.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import getpass
import json
import logging
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.errors import LockError, StateError
from reconciler.state.critical import signals_deferred

__all__ = [
    "DEFAULT_LOCK_TTL",
    "HeldLock",
    "LockInfo",
    "acquire_lock",
    "lock_ttl",
    "our_lock_info",
    "read_lock",
    "remove_lock",
]

log = logging.getLogger(__name__)

DEFAULT_LOCK_TTL = 2 * 60 * 60
_UNLOCK_HINT = "run `rlcm state unlock --force` if it is no longer running"


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock, as written in the lock file."""

    holder: str  # user@host
    pid: int
    host: str
    started_at: str  # UTC, ISO 8601 with Z
    command: str
    ttl: int  # seconds

    def describe(self) -> str:
        return f"{self.holder} (pid {self.pid}, {self.command}, since {self.started_at})"

    def age_seconds(self, now: datetime | None = None) -> float | None:
        try:
            started = datetime.strptime(self.started_at, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return None
        return ((now or datetime.now(UTC)) - started.replace(tzinfo=UTC)).total_seconds()

    def is_expired(self, now: datetime | None = None) -> bool:
        """Older than its TTL (a start time we cannot read counts as expired)."""
        age = self.age_seconds(now)
        return age is None or age > self.ttl

    def on_this_host(self) -> bool:
        return self.host == _hostname()

    def holder_is_gone(self) -> bool:
        """True only when the holder ran on this host and its process no longer exists."""
        return self.on_this_host() and not _pid_alive(self.pid)


@dataclass
class HeldLock:
    """A lock this process holds; `warning` says whose dead lock was taken over, if any."""

    path: Path
    info: LockInfo
    warning: str | None = None
    released: bool = False

    def release(self) -> None:
        """Remove the lock file, but only if it is still ours (it may have been broken)."""
        if self.released:
            return
        with signals_deferred():  # a Ctrl-C now must not leave the lock half released
            self.released = True
            self._remove_if_ours()
            _HELD.pop(id(self), None)

    def _remove_if_ours(self) -> None:
        try:
            current = read_lock(self.path)
        except StateError:
            return
        if current == self.info:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        else:
            log.warning("lock: not released, no longer ours: path=%s", self.path)


def lock_ttl() -> int:
    """The TTL for new locks: `RLCM_LOCK_TTL` seconds, else two hours."""
    raw = os.environ.get("RLCM_LOCK_TTL", "").strip()
    if not raw:
        return DEFAULT_LOCK_TTL
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if value <= 0:
        raise StateError(f"RLCM_LOCK_TTL must be a positive number of seconds, got {raw!r}")
    return value


def read_lock(path: Path) -> LockInfo | None:
    """The lock file's holder, None when there is no lock."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read lock file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
        return LockInfo(
            holder=str(data["holder"]),
            pid=int(data["pid"]),
            host=str(data["host"]),
            started_at=str(data["started_at"]),
            command=str(data["command"]),
            ttl=int(data["ttl"]),
        )
    except (ValueError, TypeError, KeyError):
        raise LockError(
            f"lock file {path} is unreadable; if no rlcm is running, "
            "run `rlcm state unlock --force`"
        ) from None


def remove_lock(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# Locks this process holds, released (if still ours) when it exits. A Ctrl-C whose Python
# handler was already due when a critical section began (the OS signal came just before
# the mask) is raised at its first instruction; and one can land between a `with`
# statement's lines and the lock's release, or leave the lock's generator suspended,
# never resumed. Whatever the moment, the process then exits, and this releases the lock.
_HELD: dict[int, HeldLock] = {}


def _release_held() -> None:
    for held in list(_HELD.values()):
        if held.info.pid == os.getpid():  # not in a forked child: its parent holds them
            with contextlib.suppress(Exception):
                held.release()


atexit.register(_release_held)


def acquire_lock(path: Path, command: str) -> HeldLock:
    """Take the lock for `command`, taking over a dead holder's lock; else LockError.

    A Ctrl-C or SIGTERM that arrives meanwhile is delivered once the lock is taken (or
    refused), never between creating the file and returning its holder."""
    with signals_deferred():
        held = HeldLock(path, _our_info(command))
        _HELD[id(held)] = held  # before the file exists: released at exit, if ours
        try:
            return _acquire(held)
        except Exception:
            _HELD.pop(id(held), None)  # refused or failed: nothing of ours was left
            raise


def _acquire(held: HeldLock) -> HeldLock:
    path, info = held.path, held.info
    if _create(path, info):
        return held
    existing = read_lock(path)
    if existing is None:  # released between our attempt and our read
        return _retry(held)
    if not existing.holder_is_gone():
        raise LockError(_refusal(existing))
    if not _set_aside(path, existing):
        raise LockError(_refusal(read_lock(path) or existing))
    _retry(held)
    held.warning = (
        f"took over the state lock of {existing.describe()}: that process is gone; "
        "its run did not finish"
    )
    log.info("lock: taken over: path=%s previous=%s", path, existing.describe())
    return held


def _retry(held: HeldLock) -> HeldLock:
    if _create(held.path, held.info):
        return held
    current = read_lock(held.path)
    raise LockError(_refusal(current) if current else f"cannot take the lock {held.path}")


def _refusal(info: LockInfo) -> str:
    where = "" if info.on_this_host() else f" on another host ({info.host})"
    if info.is_expired():
        return (
            f"state is locked by a stale lock of {info.describe()}{where}, older than its "
            f"TTL of {info.ttl}s; {_UNLOCK_HINT}"
        )
    if where:
        return f"state is locked by {info.describe()}{where}; {_UNLOCK_HINT}"
    return (
        f"state is locked by {info.describe()}, which is still running; wait for it to "
        "finish and run this again (a CI job queue or concurrency group avoids the overlap)"
    )


def _set_aside(path: Path, dead: LockInfo) -> bool:
    """Move a dead holder's lock away, atomically; False if it changed hands meanwhile."""
    aside = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.dead")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True
    try:
        moved = read_lock(aside)
    except StateError:
        moved = None
    if moved == dead:
        aside.unlink()
        return True
    # Someone else took the lock between our read and our rename: give it back.
    with contextlib.suppress(OSError):
        os.link(aside, path)
    aside.unlink()
    return False


def _create(path: Path, info: LockInfo) -> bool:
    """Create the lock file with `info`, complete, only if it does not exist."""
    data = (json.dumps(asdict(info), indent=2, sort_keys=True) + "\n").encode()
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temp.write_bytes(data)
    except OSError as exc:
        raise StateError(f"cannot create lock file {path}: {exc.strerror}") from None
    try:
        os.link(temp, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            raise StateError(f"cannot create lock file {path}: {exc.strerror}") from None
        return _create_exclusive(path, data)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def _create_exclusive(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StateError(f"cannot create lock file {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:  # never leave an empty or partial lock file behind
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return True


def our_lock_info(command: str) -> LockInfo:
    """The holder this process would write for `command` (any backend's lock)."""
    return _our_info(command)


def _our_info(command: str) -> LockInfo:
    host = _hostname()
    return LockInfo(
        holder=f"{_user()}@{host}",
        pid=os.getpid(),
        host=host,
        started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        command=command,
        ttl=lock_ttl(),
    )


def _hostname() -> str:
    return socket.gethostname() or "localhost"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return f"uid{os.getuid()}"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True

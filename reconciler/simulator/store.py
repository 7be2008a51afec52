"""The simulator's persisted state: small JSON files in one directory.

Layout of DIR (one file per workspace so a request rewrites a few KB, not the world):

    sim.lock                 fcntl lock shared by every process using DIR
    meta.json                id counters and the accepted credentials
    users.json               managed users (numeric id, external id, name)
    controls.json            faults, latency, rate-limit switches, time scale
    workspaces/<key>.json    folders, assets, manifests and jobs of one workspace
    packages/<id>.zip        package blobs
    requests.jsonl           the request log, appended one line per request

Every read checks the file's stat key (inode, size, mtime) and reloads only when another
process replaced it; writes go to a temporary file and are renamed into place. A write
inside `locked()` is encoded at once and put on disk when the outermost `locked()` ends
(before the lock is let go): a request that hands out ten asset ids and saves its
workspace twice writes meta.json and the workspace once each, not twelve files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["OWN", "Store", "workspace_key"]

Json = dict[str, Any]
OWN = "own"
_StatKey = tuple[int, int, int]

# First ids handed out per kind; demo folders and users sit below these.
_COUNTER_START = {
    "asset": 100_001,
    "manifest": 501,
    "package": 3_001,
    "folder": 900_001,
    "user": 700_001,  # customers and environment workspaces added after seeding
}


def workspace_key(user_id: int | None) -> str:
    return OWN if user_id is None else f"mu-{user_id}"


class Store:
    """Process- and thread-safe access to DIR. Call methods inside `locked()`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        (self.directory / "workspaces").mkdir(parents=True, exist_ok=True)
        (self.directory / "packages").mkdir(exist_ok=True)
        self._cache: dict[Path, tuple[_StatKey, Json]] = {}
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None
        # written inside locked(), on disk at its end: path -> (bytes, data)
        self._dirty: dict[Path, tuple[bytes, Json]] = {}

    # -- locking ---------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive access for this thread and across processes (re-entrant)."""
        with self._thread_lock:
            if self._depth == 0:
                fd = os.open(self.directory / "sim.lock", os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    try:
                        self._flush()
                    finally:
                        if self._lock_fd is not None:
                            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                            os.close(self._lock_fd)
                            self._lock_fd = None

    # -- generic JSON files ----------------------------------------------------
    def read(self, name: str, default: Json | None = None) -> Json:
        path = self.directory / name
        dirty = self._dirty.get(path)
        if dirty is not None:
            return dirty[1]
        try:
            st = path.stat()
        except FileNotFoundError:
            self._cache.pop(path, None)
            return {} if default is None else json.loads(json.dumps(default))
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        data: Json = json.loads(path.read_bytes())
        self._cache[path] = (key, data)
        return data

    def write(self, name: str, data: Json) -> None:
        path = self.directory / name
        text = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        self._dirty.pop(path, None)  # re-inserted last: files go to disk in write order
        self._dirty[path] = (text, data)
        if self._depth == 0:
            self._flush()

    def _flush(self) -> None:
        while self._dirty:
            path = next(iter(self._dirty))
            text, data = self._dirty.pop(path)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(text)
            os.replace(tmp, path)
            st = path.stat()
            self._cache[path] = ((st.st_ino, st.st_size, st.st_mtime_ns), data)

    def reset(self) -> None:
        """Forget every workspace, package and counter (the request log stays)."""
        folder = self.directory / "workspaces"
        self._dirty = {p: d for p, d in self._dirty.items() if p.parent != folder}
        for path in [
            *(self.directory / "workspaces").glob("*.json"),
            *(self.directory / "packages").glob("*.zip"),
        ]:
            path.unlink()
        meta = self.read("meta.json")
        meta.pop("counters", None)
        self.write("meta.json", meta)
        self.invalidate()

    def invalidate(self) -> None:
        """Forget cached files (after a failed handler may have half-mutated one); a
        write not on disk yet is read back as it was written."""
        self._cache.clear()
        self._dirty = {path: (text, json.loads(text)) for path, (text, _) in self._dirty.items()}

    def exists(self, name: str) -> bool:
        path = self.directory / name
        return path in self._dirty or path.exists()

    # -- typed helpers ---------------------------------------------------------
    def workspace(self, key: str) -> Json | None:
        data = self.read(f"workspaces/{key}.json")
        return data or None

    def save_workspace(self, ws: Json) -> None:
        self.write(f"workspaces/{ws['key']}.json", ws)

    def workspace_keys(self) -> list[str]:
        folder = self.directory / "workspaces"
        written = {p.stem for p in self._dirty if p.parent == folder}
        return sorted({p.stem for p in folder.glob("*.json")} | written)

    def next_id(self, kind: str) -> int:
        meta = self.read("meta.json")
        counters = meta.setdefault("counters", {})
        value = int(counters.get(kind, _COUNTER_START[kind]))
        counters[kind] = value + 1
        self.write("meta.json", meta)
        return value

    def put_package(self, package_id: int, blob: bytes) -> None:
        path = self.directory / "packages" / f"{package_id}.zip"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)

    def package(self, package_id: int) -> bytes | None:
        try:
            return (self.directory / "packages" / f"{package_id}.zip").read_bytes()
        except FileNotFoundError:
            return None

    # -- request log -----------------------------------------------------------
    def append_log(self, entry: Json) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        # O_APPEND makes each short line one atomic write, even across processes.
        fd = os.open(self.directory / "requests.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def read_log(self) -> list[Json]:
        try:
            text = (self.directory / "requests.jsonl").read_text()
        except FileNotFoundError:
            return []
        # a line still being appended (by the server, in another process) has no newline
        # yet: it is read once it is whole
        whole, _, _ = text.rpartition("\n")
        return [json.loads(line) for line in whole.splitlines() if line.strip()]

    def clear_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "requests.jsonl").unlink()

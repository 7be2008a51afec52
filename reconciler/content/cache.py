"""Packages by content digest on disk: `.rlcm/cache/<hex>.zip` beside the state.

Best effort by design: an entry that cannot be read, or whose bytes no longer match its
name, is discarded and the package fetched again; a cache that cannot be written only
costs a download later.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from reconciler.content.package import inspect_package
from reconciler.errors import PackageError

__all__ = ["PackageCache"]

log = logging.getLogger(__name__)


class PackageCache:
    """Content-addressed zip files; names are digests, so nothing can escape the folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, digest: str) -> Path:
        algo, _, hexdigest = digest.partition(":")
        if (
            algo != "sha256"
            or len(hexdigest) != 64
            or not all(c in "0123456789abcdef" for c in hexdigest)
        ):
            raise PackageError(f"not a package digest: {digest!r}")
        return self.directory / f"{hexdigest}.zip"

    def get(self, digest: str) -> bytes | None:
        try:
            data = self._path(digest).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cache: unreadable=%s reason=%s", digest, exc.strerror)
            return None
        try:
            if inspect_package(data, where="cached package").digest == digest:
                return data
            reason = "its bytes do not match its name"
        except PackageError as exc:
            reason = str(exc)
        log.warning("cache: discarded=%s reason=%s", digest, reason)
        self.discard(digest)
        return None

    def discard(self, digest: str) -> None:
        """Remove a damaged entry, so the package fetched again replaces it."""
        try:
            self._path(digest).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cache: not removed=%s reason=%s", digest, exc.strerror)

    def put(self, digest: str, data: bytes) -> None:
        """Best effort: a cache that cannot be written only costs a download later."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".zip")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self._path(digest))
        except OSError as exc:
            log.warning("cache: not written=%s reason=%s", digest, exc.strerror)

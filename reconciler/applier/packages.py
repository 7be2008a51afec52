"""Packages during one apply: exported once, downloaded once, imported everywhere.

Every import of a manifest's package uses the same bytes, held once in memory. A package
exported by an earlier (perhaps killed) apply is read from the local cache
(`.rlcm/cache/<digest>.zip` beside the state) or downloaded again by its package id; its
digest must match what state recorded, so a target never receives a different package
than the plan promised.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import PackageError
from reconciler.package import PackageInfo, inspect_package

__all__ = ["Package", "PackageCache"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Package:
    id: int
    data: bytes
    info: PackageInfo

    @property
    def digest(self) -> str:
        return self.info.digest


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
        except PackageError as exc:
            log.warning("cache: refused=%s reason=%s", digest, exc)
        return None

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


class PackageBoard:
    """The packages of this apply by manifest name; imports wait here for their export."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[Package]] = {}

    def future(self, manifest: str) -> asyncio.Future[Package]:
        if manifest not in self._futures:
            self._futures[manifest] = asyncio.get_running_loop().create_future()
        return self._futures[manifest]

    def publish(self, manifest: str, package: Package) -> None:
        future = self.future(manifest)
        if not future.done():
            future.set_result(package)

    def fail(self, manifest: str, error: BaseException) -> None:
        future = self.future(manifest)
        if not future.done():
            future.set_exception(error)
            future.exception()  # marks it retrieved: a failed export with no importer is fine

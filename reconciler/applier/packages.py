"""Packages during one apply: exported once, downloaded once, imported everywhere.

Every import of a manifest's package uses the same bytes, held once in memory. A package
exported by an earlier (perhaps killed) apply is read from the local cache
(`.rlcm/cache/<digest>.zip` beside the state) or downloaded again by its package id; its
digest must match what state recorded, so a target never receives a different package
than the plan promised.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from reconciler.content.package import PackageInfo

__all__ = ["Package", "PackageBoard"]


@dataclass(frozen=True, slots=True)
class Package:
    id: int
    data: bytes
    info: PackageInfo

    @property
    def digest(self) -> str:
        return self.info.digest


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

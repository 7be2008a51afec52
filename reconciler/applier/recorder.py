"""Records every finished step in state at once, so a killed apply resumes where it stopped.

All writes go through one `Recorder`; the applier runs on one event loop, so records are
changed and written without interleaving.

Group commit: rewriting the whole file costs time proportional to its size (3,000 import
records are ~1.5 MB), so at fleet scale one write per finished import made apply
quadratic. With `batch_window` > 0, import and package records that finish within that
many seconds share one write (scheduled on the event loop, and flushed when the run
ends). A crash loses at most that window: an import whose id was not yet on disk is
sent again by the next apply, which Workato treats as a re-import of the same package.
Manifest records are always written at once (see steps.py on the pending marker).

Records are always replaced whole, never mutated in place: the state encoder caches each
record's text and only notices replacement (see state/encode.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from reconciler.state.model import (
    AssetStamp,
    ImportRecord,
    ManifestRecord,
    PackageRecord,
    PendingManifest,
    RecipeResult,
    State,
    import_key,
)
from reconciler.state.store import StateStore

__all__ = ["Recorder", "now_iso"]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Recorder:
    def __init__(self, store: StateStore, state: State, *, batch_window: float = 0.0) -> None:
        self.store = store
        self.state = state
        self.batch_window = batch_window
        self._due: asyncio.TimerHandle | None = None

    def _write(self) -> None:
        """Write now (any batched record goes with it)."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        self.store.write(self.state)

    def _write_soon(self) -> None:
        """Write within `batch_window` seconds, together with other records finished by then."""
        if self.batch_window <= 0:
            self._write()
        elif self._due is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop: nothing to batch with
                self._write()
                return
            self._due = loop.call_later(self.batch_window, self._write)

    def flush(self) -> None:
        """Write a batched record now; nothing to do when none is waiting."""
        if self._due is not None:
            self._write()

    # -- manifests -----------------------------------------------------------------------

    def manifest_pending(self, name: str) -> None:
        self.state.pending[name] = PendingManifest(name=name, started_at=now_iso())
        self._write()

    def manifest_saved(self, record: ManifestRecord) -> None:
        """A created or updated manifest; clears its pending marker in the same write."""
        self.state.manifests[record.name] = record
        self.state.pending.pop(record.name, None)
        self._write()

    def manifest_forgotten(self, name: str) -> None:
        self.state.manifests.pop(name, None)
        self.state.packages.pop(name, None)
        self.state.pending.pop(name, None)
        self._write()

    # -- packages ------------------------------------------------------------------------

    def package_saved(self, record: PackageRecord) -> None:
        self.state.packages[record.manifest] = record
        self._write_soon()

    # -- imports -------------------------------------------------------------------------

    def import_saved(self, *records: ImportRecord) -> None:
        for record in records:
            self.state.imports[import_key(record.manifest, record.target)] = record
        self._write_soon()

    def import_forgotten(self, manifest: str, target: str) -> None:
        self.state.imports.pop(import_key(manifest, target), None)
        self._write()


def stamps(raw: list[dict[str, object]] | None) -> list[AssetStamp]:
    return [AssetStamp.model_validate(item) for item in raw or []]


def recipe_results(raw: list[tuple[int, str | None, str]]) -> list[RecipeResult]:
    return [RecipeResult(id=i, name=n, import_result=r) for i, n, r in raw]

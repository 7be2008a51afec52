"""Records every finished step in state at once, so a killed apply resumes where it stopped.

All writes go through one `Recorder`; the applier runs on one event loop, so records are
changed and written without interleaving. Records are always replaced whole, never
mutated in place: the state encoder caches each record's text and only notices
replacement (see state/encode.py).
"""

from __future__ import annotations

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

__all__ = ["Recorder", "now_iso", "now_iso_ms"]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso_ms() -> str:
    """With milliseconds: steps of one target start within a second of each other, and
    reports order a target's steps by start time."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Recorder:
    def __init__(self, store: StateStore, state: State) -> None:
        self.store = store
        self.state = state

    def _write(self) -> None:
        self.store.write(self.state)

    # -- manifests -----------------------------------------------------------------------

    def manifest_pending(self, name: str) -> None:
        self.state.pending[name] = PendingManifest(name=name, started_at=now_iso())
        self._write()

    def manifest_unpending(self, name: str) -> None:
        """A create Workato refused: nothing exists that the next plan should warn about."""
        if self.state.pending.pop(name, None) is not None:
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
        old = self.state.packages.get(record.manifest)
        if old is not None and old.package_id == record.package_id and old.started_at:
            # the same job, now finished: it started when it was first recorded
            record = record.model_copy(update={"started_at": old.started_at})
        self.state.packages[record.manifest] = record
        self._write()

    # -- imports -------------------------------------------------------------------------

    def import_saved(self, record: ImportRecord) -> None:
        key = import_key(record.manifest, record.target)
        old = self.state.imports.get(key)
        if old is not None and old.import_id == record.import_id and old.started_at:
            record = record.model_copy(update={"started_at": old.started_at})
        self.state.imports[key] = record
        self._write()

    def import_forgotten(self, manifest: str, target: str) -> None:
        self.state.imports.pop(import_key(manifest, target), None)
        self._write()


def stamps(raw: list[dict[str, object]] | None) -> list[AssetStamp]:
    return [AssetStamp.model_validate(item) for item in raw or []]


def recipe_results(raw: list[tuple[int, str | None, str]]) -> list[RecipeResult]:
    return [RecipeResult(id=i, name=n, import_result=r) for i, n, r in raw]

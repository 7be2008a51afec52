"""Records every finished step in state at once, so a killed apply resumes where it stopped.

All writes go through one `Recorder`; the applier runs on one event loop, so records are
changed and written without interleaving.

Group commit: rewriting the whole file costs time proportional to its size (3,000 import
records are ~1.5 MB), so at fleet scale one write per record made apply quadratic. Job ids
are on disk before the step that started the job goes on (an `in_progress` record is what
makes the next apply poll a job instead of starting it again): the step awaits `durable()`,
and every job id returned within `commit_window` seconds shares that one write (one write
per import start was most of rlcm's CPU at 1,000 targets). Manifest
records are written at once (see steps.py on the pending marker). Records of *finished*
jobs may wait up to `batch_window` seconds to share one write (flushed when the run ends):
a crash that loses one leaves the job `in_progress` on disk, and the next apply polls it
and records it then.

Records are always replaced whole, never mutated in place: the state encoder caches each
record's text and only notices replacement (see state/encode.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from reconciler.state.model import (
    ImportRecord,
    LearnedQuota,
    ManifestRecord,
    PackageRecord,
    PendingImport,
    PendingManifest,
    ResolvedTarget,
    State,
    TargetBaseline,
    WaveRecord,
    import_key,
)

__all__ = ["Recorder", "StateWriter", "now_iso", "now_iso_ms"]


class StateWriter(Protocol):
    """All the recorder needs of a state backend (state/backends): a checked write."""

    def write(self, state: State) -> None: ...


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso_ms() -> str:
    """With milliseconds: steps of one target start within a second of each other, and
    reports order a target's steps by start time."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Recorder:
    def __init__(
        self,
        store: StateWriter,
        state: State,
        *,
        batch_window: float = 0.0,
        commit_window: float = 0.0,
    ) -> None:
        self.store = store
        self.state = state
        self.batch_window = batch_window
        self.commit_window = commit_window
        self._due: asyncio.TimerHandle | None = None
        self._commit: asyncio.Future[None] | None = None  # the write `durable()` awaits
        # called once a write failed (the applier stops starting new work, as on a 401):
        # every job started after a lost write would be started again by the next apply
        self.on_failure: Callable[[BaseException], None] | None = None
        self.failed: BaseException | None = None

    def _write(self) -> None:
        """Write now (any batched record goes with it)."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        commit, self._commit = self._commit, None
        try:
            self.store.write(self.state)
        except BaseException as exc:
            if commit is not None and not commit.done():
                commit.set_exception(exc)
                commit.exception()  # its waiters raise it; no "never retrieved" log
            if isinstance(exc, Exception):
                self._failed(exc)
            raise
        if commit is not None and not commit.done():
            commit.set_result(None)

    def _failed(self, exc: Exception) -> None:
        first = self.failed is None
        self.failed = exc
        if first and self.on_failure is not None:
            self.on_failure(exc)

    def _write_later(self) -> None:
        """A batched write on a timer: its failure goes to `on_failure` (nobody awaits it)."""
        with contextlib.suppress(Exception):
            self._write()

    def _commit_soon(self) -> None:
        """Write within `commit_window` seconds (0: at the end of this turn of the event
        loop), with every record saved meanwhile; the steps awaiting `durable()` wait."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: nothing to share the write with
            self._write()
            return
        if self._commit is None:
            self._commit = loop.create_future()
            loop.call_later(self.commit_window, self._commit_now)

    def _commit_now(self) -> None:
        if self._commit is not None:
            with contextlib.suppress(Exception):  # raised to the steps awaiting durable()
                self._write()

    async def durable(self) -> None:
        """Return once every record saved so far is on disk; raise what the write raised."""
        if self._commit is not None:
            await asyncio.shield(self._commit)  # one waiter's cancel leaves the others theirs

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
            self._due = loop.call_later(self.batch_window, self._write_later)

    def _write_for(self, records: Sequence[PackageRecord | ImportRecord]) -> None:
        """A job id just returned by Workato is written in this turn of the loop (the step
        awaits `durable()`): it is what makes the next apply poll the job instead of
        starting it again. A finished job may wait for the batch: if that write is lost,
        the next apply polls the job and records it then."""
        if any(record.status == "in_progress" for record in records):
            self._commit_soon()
        else:
            self._write_soon()

    def flush(self) -> None:
        """Write a batched record now; nothing to do when none is waiting."""
        if self._due is not None or self._commit is not None:
            self._write()

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
        self._write_for([record])

    # -- imports -------------------------------------------------------------------------

    def import_pending(self, marker: PendingImport) -> None:
        """Before an import POST, which awaits `durable()`: markers of imports that start
        within `commit_window` share one write (see steps.py on the window)."""
        self.state.pending_imports[import_key(marker.manifest, marker.target)] = marker
        self._commit_soon()

    def import_unpending(self, manifest: str, target: str) -> None:
        """An import Workato refused (or that rlcm never sent): nothing to find out."""
        if self.state.pending_imports.pop(import_key(manifest, target), None) is not None:
            self._write()

    def import_answer_lost(self, manifest: str, target: str, why: str) -> None:
        key = import_key(manifest, target)
        marker = self.state.pending_imports.get(key)
        if marker is not None:
            self.state.pending_imports[key] = marker.model_copy(update={"lost_answer": why})
            self._write()

    def import_saved(self, *records: ImportRecord) -> None:
        """Also clears each record's pending marker, in the same write."""
        for new in records:
            key = import_key(new.manifest, new.target)
            self.state.pending_imports.pop(key, None)
            old = self.state.imports.get(key)
            if old is not None and old.import_id == new.import_id and old.started_at:
                # the same job, now finished: it started when it was first recorded
                new = new.model_copy(update={"started_at": old.started_at})  # noqa: PLW2901
            self.state.imports[key] = new
            self.state.unadopted.pop(key, None)
        self._write_for(records)

    def quotas_learned(self, learned: dict[str, LearnedQuota | None]) -> None:
        """Rates Workato's 429s taught (None: the bucket is back at its configured quota)."""
        changed = False
        for key, quota in learned.items():
            if quota is None:
                changed |= self.state.quotas.pop(key, None) is not None
            elif self.state.quotas.get(key) != quota:
                self.state.quotas[key] = quota
                changed = True
        if changed:
            self._write()

    def target_resolved(self, address: str, record: ResolvedTarget) -> None:
        """A target's folder (by path) or workspace, as apply resolved it; written with the
        import records that follow (a lost one is only looked up again)."""
        if self.state.targets.get(address) != record:
            self.state.targets[address] = record

    def baseline_saved(self, baseline: TargetBaseline, *records: ImportRecord) -> None:
        """A target's baseline, read after these finished imports (written with them)."""
        self.state.baselines[baseline.target] = baseline
        self.import_saved(*records)

    # -- waves ---------------------------------------------------------------------------

    def wave_finished(self, record: WaveRecord) -> None:
        """Written with the next batch of records (within the batch window): a wave's
        record needs no write of its own."""
        self.state.waves[record.name] = record
        self._write_soon()

    def import_forgotten(self, manifest: str, target: str) -> None:
        self.state.imports.pop(import_key(manifest, target), None)
        if not any(r.target == target for r in self.state.imports.values()):
            self.state.targets.pop(target, None)  # a pruned customer is no longer reported
        self._write()

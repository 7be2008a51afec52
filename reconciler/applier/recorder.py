"""Records every finished step in state at once, so a killed apply resumes where it stopped.

All writes go through one `Recorder`; the applier runs on one event loop, so records are
changed and written without interleaving.

Group commit: rewriting the whole file costs time proportional to its size (3,000 import
records are ~1.5 MB), so at fleet scale one write per record made apply quadratic. Job ids
are on disk before the step that started the job goes on (an `in_progress` record is what
makes the next apply poll a job instead of starting it again): the step awaits `durable()`.
A commit after a quiet spell is written at once; one within `commit_window` seconds of the
last write waits for the window's end and shares that write with every record saved by
then (one write per import start was most of rlcm's CPU at 1,000 targets). Manifest
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
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel

from reconciler.state.encode import Changes
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


# a commit waits this many times the last write's duration after it (writes then take at
# most 1 / (1 + COMMIT_SHARE) of the event loop); 1,000 targets x 3: 8 ms writes, 24 ms
COMMIT_SHARE = 3.0


class StateWriter(Protocol):
    """All the recorder needs of a state backend (state/backends): a checked write, told
    which records changed since the last one (state/encode.py)."""

    def write(self, state: State, changed: Changes | None = None) -> None: ...


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
        self._written = -math.inf  # time.monotonic() at the last write
        self._write_cost = 0.0  # seconds the last write took
        # section -> keys put or removed since the last write: the encoder re-encodes only
        # these (every change below goes through _put/_pop). None: scan the whole state.
        self._changed: dict[str, set[str]] | None = None
        # called once a write failed (the applier stops starting new work, as on a 401):
        # every job started after a lost write would be started again by the next apply
        self.on_failure: Callable[[BaseException], None] | None = None
        self.failed: BaseException | None = None

    def _put(self, section: str, key: str, record: BaseModel) -> None:
        getattr(self.state, section)[key] = record
        self._touched(section, key)

    def _pop(self, section: str, key: str) -> BaseModel | None:
        record: BaseModel | None = getattr(self.state, section).pop(key, None)
        if record is not None:
            self._touched(section, key)
        return record

    def _touched(self, section: str, key: str) -> None:
        if self._changed is not None:
            self._changed.setdefault(section, set()).add(key)

    def _write(self, *, scan: bool = False) -> None:
        """Write now (any batched record goes with it); `scan`: have the encoder compare
        every record, not only those named (the first write, and the last)."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        commit, self._commit = self._commit, None
        changed, self._changed = None if scan else self._changed, {}
        started = time.monotonic()
        try:
            self.store.write(self.state, changed)
        except BaseException as exc:
            self._changed = None  # what it held was not written: the next write scans
            if commit is not None and not commit.done():
                commit.set_exception(exc)
                commit.exception()  # its waiters raise it; no "never retrieved" log
            if isinstance(exc, Exception):
                self._failed(exc)
            raise
        finally:
            self._written = time.monotonic()  # the next commit's window counts from here
            self._write_cost = self._written - started
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
        """Write with every record saved meanwhile; the steps awaiting `durable()` wait.

        A record saved after a quiet spell is written at the end of this turn of the event
        loop (a step never waits out a window for nothing); one saved soon after the last
        write waits until `COMMIT_SHARE` times that write's duration has passed since it
        (at most `commit_window` seconds), and shares one write with the others saved by
        then. So writes take at most a quarter of the event loop, and a small state's
        steps wait a few milliseconds, a fleet's tens."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: nothing to share the write with
            self._write()
            return
        if self._commit is None:
            self._commit = loop.create_future()
            window = min(self.commit_window, COMMIT_SHARE * self._write_cost)
            delay = max(0.0, self._written + window - time.monotonic())
            loop.call_later(delay, self._commit_now)

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
        """Write a batched record now; nothing to do when none is waiting. A scan of the
        whole state: whatever this run changed, the file ends up holding it. After a write
        failed, the run has stopped and its steps say why: a last write that fails again
        adds nothing to that (a record of a step still in flight then was waiting)."""
        if self._due is None and self._commit is None:
            return
        if self.failed is None:
            self._write(scan=True)
            return
        with contextlib.suppress(Exception):
            self._write(scan=True)

    # -- manifests -----------------------------------------------------------------------

    def manifest_pending(self, name: str) -> None:
        self._put("pending", name, PendingManifest(name=name, started_at=now_iso()))
        self._write()

    def manifest_unpending(self, name: str) -> None:
        """A create Workato refused: nothing exists that the next plan should warn about."""
        if self._pop("pending", name) is not None:
            self._write()

    def manifest_saved(self, record: ManifestRecord) -> None:
        """A created or updated manifest; clears its pending marker in the same write."""
        self._put("manifests", record.name, record)
        self._pop("pending", record.name)
        self._write()

    def manifest_forgotten(self, name: str) -> None:
        self._pop("manifests", name)
        self._pop("packages", name)
        self._pop("pending", name)
        self._write()

    # -- packages ------------------------------------------------------------------------

    def package_saved(self, record: PackageRecord) -> None:
        old = self.state.packages.get(record.manifest)
        if old is not None and old.package_id == record.package_id and old.started_at:
            # the same job, now finished: it started when it was first recorded
            record = record.model_copy(update={"started_at": old.started_at})
        self._put("packages", record.manifest, record)
        self._write_for([record])

    # -- imports -------------------------------------------------------------------------

    def import_pending(self, marker: PendingImport) -> None:
        """Before an import POST, which awaits `durable()`: markers of imports that start
        within `commit_window` share one write (see steps.py on the window)."""
        self._put("pending_imports", import_key(marker.manifest, marker.target), marker)
        self._commit_soon()

    def import_unpending(self, manifest: str, target: str) -> None:
        """An import Workato refused (or that rlcm never sent): nothing to find out."""
        if self._pop("pending_imports", import_key(manifest, target)) is not None:
            self._write()

    def import_answer_lost(self, manifest: str, target: str, why: str) -> None:
        key = import_key(manifest, target)
        marker = self.state.pending_imports.get(key)
        if marker is not None:
            self._put("pending_imports", key, marker.model_copy(update={"lost_answer": why}))
            self._write()

    def import_saved(self, *records: ImportRecord) -> None:
        """Also clears each record's pending marker, in the same write."""
        for new in records:
            key = import_key(new.manifest, new.target)
            self._pop("pending_imports", key)
            old = self.state.imports.get(key)
            if old is not None and old.import_id == new.import_id and old.started_at:
                # the same job, now finished: it started when it was first recorded
                new = new.model_copy(update={"started_at": old.started_at})  # noqa: PLW2901
            self._put("imports", key, new)
            self.state.unadopted.pop(key, None)  # not a section: encoded whole every time
        self._write_for(records)

    def quotas_learned(self, learned: dict[str, LearnedQuota | None]) -> None:
        """Rates Workato's 429s taught (None: the bucket is back at its configured quota)."""
        changed = False
        for key, quota in learned.items():
            if quota is None:
                changed |= self._pop("quotas", key) is not None
            elif self.state.quotas.get(key) != quota:
                self._put("quotas", key, quota)
                changed = True
        if changed:
            self._write()

    def target_resolved(self, address: str, record: ResolvedTarget) -> None:
        """A target's folder (by path) or workspace, as apply resolved it; written with the
        import records that follow (a lost one is only looked up again)."""
        if self.state.targets.get(address) != record:
            self._put("targets", address, record)

    def baseline_saved(self, baseline: TargetBaseline, *records: ImportRecord) -> None:
        """A target's baseline, read after these finished imports (written with them)."""
        self._put("baselines", baseline.target, baseline)
        self.import_saved(*records)

    # -- waves ---------------------------------------------------------------------------

    def wave_finished(self, record: WaveRecord) -> None:
        """Written with the next batch of records (within the batch window): a wave's
        record needs no write of its own."""
        self._put("waves", record.name, record)
        self._write_soon()

    def import_forgotten(self, manifest: str, target: str) -> None:
        self._pop("imports", import_key(manifest, target))
        if not any(r.target == target for r in self.state.imports.values()):
            self._pop("targets", target)  # a pruned customer is no longer reported
        self._write()

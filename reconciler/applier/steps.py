"""The three kinds of step an apply runs, each recording its result in state at once.

A step returns a `StepOutcome`; a failure that only concerns this step (an API error, a
failed job, an unsafe package) becomes a failed outcome, so the rest of the wave goes on.

Resumption: every job id is written to state as soon as Workato answers the POST, with
status `in_progress`; the next plan turns such a record into "poll, don't start again".
A start request and that write run as one unit (`_atomic`): an abort (the second
Ctrl-C) waits for the request in flight and its record, so only a crash (SIGKILL,
power loss) can fall into the window below.

The one window where a crash can still duplicate something:
- manifest create: no API lists manifests, so between Workato receiving the create and
  rlcm writing the new id to state, a crash leaves a manifest rlcm does not know. A
  `pending` marker is written *before* the request, so the next plan warns and names
  `rlcm adopt`, and the next apply refuses to create it again without
  --allow-unrecorded-create
  (reconciler/plan/safety.py) instead of silently leaving a second one. The window is one HTTP round
  trip plus one state write. A create Workato refuses (a 4xx answer) clears the marker:
  nothing was created.
- (Exports and imports have the same gap between the POST and the write of the job id;
  job ids that arrive within `COMMIT_WINDOW` (50 ms) share one write, and each step waits
  for it (`Recorder.durable()`) before polling, so the gap is at most that window plus
  one write. A second export only builds an unused package; a second import of the same
  package is idempotent in Workato. Both are harmless, which is why only manifests get a
  marker.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.applier.packages import Package, PackageBoard
from reconciler.applier.recorder import Recorder, now_iso, now_iso_ms
from reconciler.content.cache import PackageCache
from reconciler.content.package import PackageInfo, inspect_package
from reconciler.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PackageError,
    RlcmError,
    StateError,
)
from reconciler.live import LiveRecipe
from reconciler.live.recipes import read_target_recipes, recipe_folders, recipe_stamp
from reconciler.live.targets import ensure_folder
from reconciler.plan import Change
from reconciler.redact import redact
from reconciler.report import SUCCESS_RESULTS, RecipeOutcome, StepOutcome
from reconciler.state.model import (
    AssetStamp,
    ImportRecord,
    ManifestRecord,
    PackageRecord,
    PendingImport,
    RecipeResult,
    ResolvedTarget,
    TargetBaseline,
    import_key,
)
from reconciler.workato.retry import REFUSED

if TYPE_CHECKING:
    from reconciler.workato.client import WorkatoClient
    from reconciler.workato.models import Asset, ImportJob, ManifestBody, ManifestView, PackageJob

__all__ = [
    "StepContext",
    "StepFailed",
    "record_baseline",
    "run_export",
    "run_import",
    "run_manifest",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class StepFailed(RlcmError):
    """A step that failed for a reason of its own (a failed job, not an API error)."""


@dataclass
class StepContext:
    """Everything the steps share during one apply."""

    clients: Mapping[str, WorkatoClient]
    recorder: Recorder
    cache: PackageCache
    source_workspace: str
    source_owner: str | None
    board: PackageBoard = field(default_factory=PackageBoard)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    fatal: list[str] = field(default_factory=list)
    # what in the config each step is for, to name it in an API error (config/desired.py
    # `subject`): "manifest NAME" and "target ADDRESS" -> "manifest crm-sync (file:line:col)"
    subjects: Mapping[str, str] = field(default_factory=dict)
    # start requests under way with the state write of their id (`_atomic`)
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    _loading: dict[str, asyncio.Lock] = field(default_factory=dict)
    _importing: dict[tuple[str, str | None], asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recorder.on_failure = self.state_write_failed

    @property
    def source(self) -> WorkatoClient:
        return self.clients[self.source_workspace]

    def import_lock(self, workspace: str, owner: str | None) -> asyncio.Lock:
        """One import at a time into one target workspace (a customer, or the own one):
        "You can import one package at a time" (Workato's import guide). Two targets of
        one customer (two folders, two manifests) queue here rather than collide; asyncio
        locks are fair, so they take turns in the order they asked."""
        return self._importing.setdefault((workspace, owner), asyncio.Lock())

    def state_write_failed(self, exc: BaseException) -> None:
        """Stop at once, as on a 401: a job started now could not be recorded, and the next
        apply would start it again."""
        reason = str(exc) if isinstance(exc, RlcmError) else f"cannot write state: {exc}"
        self.fatal.append(
            f"{reason}; nothing new starts: free disk space or fix the state file's "
            "permissions, then run `rlcm apply` again (it polls what was started)"
        )
        self.stop.set()


@dataclass
class _Timer:
    started_at: str = field(default_factory=now_iso_ms)
    t0: float = field(default_factory=time.monotonic)

    def outcome(self, change: Change, status: Any, **extra: Any) -> StepOutcome:
        return StepOutcome.of(
            change,
            status,
            started_at=self.started_at,
            finished_at=now_iso_ms(),
            duration_s=round(time.monotonic() - self.t0, 3),
            **extra,
        )


async def _guarded(ctx: StepContext, change: Change, timer: _Timer, work: Any) -> StepOutcome:
    """Run a step; its own failure is a failed outcome. An auth failure stops the apply, and
    so does a state that cannot be written (a full disk, a lost PostgreSQL connection):
    every further step would start a job whose id could not be recorded.

    Any other exception fails the step (and, through the runner, what depends on it): one
    that escaped used to kill the export task and leave its imports waiting forever on a
    package nobody would deliver, with the lock held.
    """
    try:
        outcome: StepOutcome = await work
        return outcome
    except (AuthError, StateError) as exc:
        ctx.fatal.append(str(exc))
        ctx.stop.set()  # every further call would be refused the same way
        return timer.outcome(change, "failed", message=str(exc))
    except ApiError as exc:
        return timer.outcome(change, "failed", message=str(_about(ctx, change, exc)))
    except RlcmError as exc:
        return timer.outcome(change, "failed", message=str(exc))
    except Exception as exc:  # a bug or an input nobody foresaw: this step fails, not all
        log.debug("step: unexpected error address=%s", change.address, exc_info=True)
        text = " ".join(str(exc).split())[:200]
        message = f"unexpected error {type(exc).__name__}" + (f": {text}" if text else "")
        return timer.outcome(change, "failed", message=redact(message))


def _about(ctx: StepContext, change: Change, exc: ApiError) -> ApiError:
    """An import's error names its target, a manifest's or export's its manifest."""
    key = f"target {change.target}" if change.target else f"manifest {change.manifest}"
    subject = ctx.subjects.get(key)
    return exc.about(subject) if subject else exc


# -- manifests ---------------------------------------------------------------------------


async def run_manifest(ctx: StepContext, change: Change) -> StepOutcome:
    timer = _Timer()
    return await _guarded(ctx, change, timer, _manifest(ctx, change, timer))


async def _manifest(ctx: StepContext, change: Change, timer: _Timer) -> StepOutcome:
    data = change.data
    name = change.manifest
    if change.action == "forget":
        ctx.recorder.manifest_forgotten(name)
        return timer.outcome(change, "succeeded", message="removed from state only")
    owner = data.get("owner")
    client = ctx.clients[data.get("workspace") or ctx.source_workspace]
    if change.action == "delete":
        try:
            await client.delete_manifest(owner, int(data["manifest_id"]))
        except NotFoundError:
            log.info("manifest: already gone name=%s", name)
        ctx.recorder.manifest_forgotten(name)
        return timer.outcome(change, "succeeded", manifest_id=data["manifest_id"])
    from reconciler.workato.models import ManifestBody

    body = ManifestBody.model_validate(dict(data["body"]))
    if change.action == "update":
        view = await client.update_manifest(owner, int(data["manifest_id"]), body)
        ctx.recorder.manifest_saved(_manifest_record(change, view.id, ctx))
    else:  # create, recreate: see the module docstring for the pending marker
        view = await _atomic(ctx, _create_manifest(ctx, change, client, body))
    return timer.outcome(change, "succeeded", manifest_id=view.id)


async def _create_manifest(
    ctx: StepContext, change: Change, client: WorkatoClient, body: ManifestBody
) -> ManifestView:
    name = change.manifest
    ctx.recorder.manifest_pending(name)
    try:
        view = await client.create_manifest(change.data.get("owner"), body)
    except ApiError as exc:
        if _refused(exc):  # Workato answered "no": nothing was created
            ctx.recorder.manifest_unpending(name)
        raise
    ctx.recorder.manifest_saved(_manifest_record(change, view.id, ctx))
    return view


async def _atomic(ctx: StepContext, work: Coroutine[Any, Any, T]) -> T:
    """Run a start request and the state write of its id to the end, even when the apply
    is aborted meanwhile (a second Ctrl-C): what Workato started is always recorded, so
    only a SIGKILL can open the window described in the module docstring. The abort
    waits for at most this one request (`drain` waits for every one of them, even when
    the event loop is cancelling every task on its way out)."""
    task = asyncio.ensure_future(work)
    ctx.in_flight.add(task)
    task.add_done_callback(ctx.in_flight.discard)
    aborted = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            aborted = True
    if aborted:
        raise asyncio.CancelledError
    return task.result()


async def drain(ctx: StepContext) -> None:
    """Wait for every start request under way and its record (after an abort)."""
    while pending := [t for t in ctx.in_flight if not t.done()]:
        await asyncio.wait(pending)


def _refused(exc: ApiError) -> bool:
    """An answer that says the request was not carried out: a 4xx other than a timeout
    (a 429 is retried; one that persists refused it too), or 503 Service Unavailable.

    Anything else (500, 502, 504, a dropped connection, a timeout, an answer that cannot
    be read) may have created the manifest, so the pending marker stays: the next plan
    warns, and the next apply creates it again only with --allow-unrecorded-create.
    """
    status = exc.status
    return status is not None and ((400 <= status < 500 and status != 408) or status in REFUSED)


def _manifest_record(change: Change, manifest_id: int, ctx: StepContext) -> ManifestRecord:
    data, body = change.data, change.data["body"]
    assets = [
        AssetStamp(
            type=a["type"],
            name=a["name"],
            version=a.get("version"),
            id=a.get("id"),
            folder=a.get("folder") or "",
        )
        for a in body.get("assets") or []
    ]
    return ManifestRecord(
        name=change.manifest,
        id=manifest_id,
        workspace=data.get("workspace") or ctx.source_workspace,
        owner=data.get("owner"),
        folder_id=int(body["folder_id"]),
        include_tags=bool(body.get("include_tags")),
        auto_generate=bool(body.get("auto_generate_assets")),
        assets=assets,
        spec_digest=str(data["spec_digest"]),
        updated_at=now_iso(),
        rollback_serial=data.get("rollback_serial"),
    )


# -- exports -----------------------------------------------------------------------------


async def run_export(ctx: StepContext, change: Change) -> StepOutcome:
    timer = _Timer()
    outcome: StepOutcome | None = None
    try:
        outcome = await _guarded(ctx, change, timer, _export(ctx, change, timer))
        return outcome
    finally:
        # whatever ended the export (even a cancel), its imports stop waiting for it
        if outcome is None or outcome.status != "succeeded":
            ctx.board.fail(change.manifest, StepFailed(f"{change.address} failed"))


async def _export(ctx: StepContext, change: Change, timer: _Timer) -> StepOutcome:
    data, name = change.data, change.manifest
    owner = ctx.source_owner
    record = ctx.recorder.state.manifests.get(name)
    manifest_id = data.get("manifest_id") or (record.id if record else None)
    if manifest_id is None:
        raise StepFailed(f"manifest {name} has no live id (its create did not succeed)")
    resume = data.get("resume_package_id")
    if resume is not None:
        try:
            job = await ctx.source.wait_export(owner, int(resume))
        except NotFoundError:
            error = f"export {resume} started by an earlier apply is unknown to Workato"
            ctx.recorder.package_saved(
                _package_record(change, int(manifest_id), int(resume), status="failed", error=error)
            )
            raise StepFailed(f"{error}; the next apply exports again") from None
    else:
        started, answered = await _atomic(ctx, _start_export(ctx, change, int(manifest_id)))
        job = await ctx.source.wait_export(owner, started.id, since=answered)
    if job.status != "completed":
        error = job.error or f"export ended with status {job.status}"
        ctx.recorder.package_saved(
            _package_record(change, int(manifest_id), job.id, status="failed", error=error)
        )
        raise StepFailed(f"export {job.id} of manifest {name} failed: {error}")
    try:
        package = await _download(ctx, owner, job)
    except PackageError as exc:
        # A refused package is never retried by polling the same job: record it failed,
        # so the next plan exports anew instead of resuming this package forever.
        ctx.recorder.package_saved(
            _package_record(change, int(manifest_id), job.id, status="failed", error=str(exc))
        )
        raise
    ctx.recorder.package_saved(
        _package_record(
            change,
            int(manifest_id),
            job.id,
            status="completed",
            package=package,
        )
    )
    ctx.board.publish(name, package)
    return timer.outcome(change, "succeeded", package_id=job.id, manifest_id=int(manifest_id))


async def _start_export(
    ctx: StepContext, change: Change, manifest_id: int
) -> tuple[PackageJob, float]:
    """The started job, and the clock when Workato answered (its first poll counts from
    there: the state write of its id below is part of that wait, not added to it)."""
    started = await ctx.source.start_export(ctx.source_owner, manifest_id)
    answered = ctx.source.settings.clock()
    ctx.recorder.package_saved(_package_record(change, manifest_id, started.id))
    await ctx.recorder.durable()  # the job id is on disk before anything else happens
    return started, answered


def _package_record(
    change: Change,
    manifest_id: int,
    package_id: int,
    *,
    status: Any = "in_progress",
    error: str | None = None,
    package: Package | None = None,
) -> PackageRecord:
    versions = package.info.versions() if package else {}
    stamps = []
    for raw in change.data.get("asset_versions") or []:
        stamp = dict(raw)
        found = versions.get(f"{stamp['type']}:{stamp['name']}")
        if found is not None:  # the zip is the truth about what was exported
            stamp["version"] = found
        stamps.append(AssetStamp.model_validate(stamp))
    return PackageRecord(
        manifest=change.manifest,
        manifest_id=manifest_id,
        package_id=package_id,
        status=status,
        spec_digest=str(change.data.get("spec_digest") or ""),
        digest=package.digest if package else None,
        asset_versions=stamps,
        error=error,
        started_at=now_iso(),
        finished_at=None if status == "in_progress" else now_iso(),
    )


async def _download(ctx: StepContext, owner: str | None, job: PackageJob) -> Package:
    data = await ctx.source.download_package(owner, job)
    cap = ctx.source.settings.max_package_bytes
    info = inspect_package(data, where=f"package {job.id}", max_bytes=cap)
    ctx.cache.put(info.digest, data)
    return Package(job.id, data, info)


async def package_for(ctx: StepContext, change: Change) -> Package:
    """The package an import sends: this apply's export, or a recorded one loaded once."""
    ref = change.data.get("package")
    if ref is None:
        future = ctx.board.future(change.manifest)
        if not future.done():
            raise StepFailed(f"no package: export.{change.manifest} is not part of this plan")
        return future.result()
    lock = ctx._loading.setdefault(change.manifest, asyncio.Lock())
    async with lock:
        future = ctx.board.future(change.manifest)
        if not future.done():
            ctx.board.publish(change.manifest, await _load(ctx, int(ref["id"]), ref["digest"]))
    return await future


async def _load(ctx: StepContext, package_id: int, digest: str) -> Package:
    cached = ctx.cache.get(digest)
    if cached is not None:
        cap = ctx.source.settings.max_package_bytes
        info = inspect_package(cached, where="cached package", max_bytes=cap)
        return Package(package_id, cached, info)
    job = await ctx.source.export_status(ctx.source_owner, package_id)
    package = await _download(ctx, ctx.source_owner, job)
    if package.digest != digest:
        raise PackageError(
            f"package {package_id} downloaded with digest {package.digest}, but state "
            f"recorded {digest}: refusing to import a different package than planned"
        )
    return package


# -- imports -----------------------------------------------------------------------------


async def run_import(ctx: StepContext, change: Change) -> StepOutcome:
    if change.action == "forget":
        ctx.recorder.import_forgotten(change.manifest, str(change.target))
        return _Timer().outcome(change, "succeeded", message="removed from state only")
    lock = ctx.import_lock(change.data["workspace"], change.data.get("customer"))
    async with lock:
        timer = _Timer()  # the time queued behind another import is not this one's
        return await _guarded(ctx, change, timer, _import(ctx, change, timer))


async def _import(ctx: StepContext, change: Change, timer: _Timer) -> StepOutcome:
    data = change.data
    client = ctx.clients[data["workspace"]]
    owner = data.get("customer")
    folder_id = await _target_folder(ctx, change, client)
    resume = data.get("resume_import_id")
    target = str(change.target)
    recorded = ctx.recorder.state.last_import(change.manifest, target)
    job: ImportJob | None = None
    if resume is not None and recorded is not None:
        # An import a killed apply started: poll it, never send it again. When it was
        # of an older package, the new one follows once it is done (one import at a time).
        package_id, digest = recorded.package_id, recorded.package_digest
        try:
            job = await client.wait_import(owner, int(resume))
        except NotFoundError:
            # Never stuck polling a job Workato forgot: failed, so the next plan re-imports.
            error = f"import {resume} started by an earlier apply is unknown to Workato"
            ctx.recorder.import_saved(
                recorded.model_copy(update={"status": "failed", "error": error})
            )
            raise StepFailed(f"{error}; the next apply imports again") from None
        if not data.get("poll_only", True):
            names = await _recipe_names(client, owner, folder_id)
            ctx.recorder.import_saved(
                _import_record(
                    change,
                    job.id,
                    package_id,
                    digest,
                    "completed" if job.status == "completed" else "failed",
                    job,
                    _recipes(job, names),
                )
            )
            job = None
    if job is None:
        package = await package_for(ctx, change)
        package_id, digest = package.id, package.digest
        pending = ctx.recorder.state.pending_imports.get(import_key(change.manifest, target))
        if pending is not None and pending.package_digest == digest:
            # an earlier run sent this package and never learnt the job id
            found = await _found_out(ctx, change, client, package, timer, folder_id, wait=False)
            if found is not None:
                return found
        try:
            started, answered = await _atomic(
                ctx, _start_import(ctx, change, client, package, folder_id)
            )
        except _LostAnswer as lost:
            found = await _found_out(ctx, change, client, package, timer, folder_id, wait=True)
            if found is not None:
                return found
            raise StepFailed(
                f"the answer to the import was lost ({lost.cause}); Workato may have "
                f"started it, but the target folder does not show the package after "
                f"{client.settings.poll.timeout:g} s: the next apply checks the folder "
                "again before sending it"
            ) from None
        job = await client.wait_import(owner, started.id, since=answered)
    status = "completed" if job.status == "completed" else "failed"
    # A clean import's recipe read (recipe names, drift baseline) waits for the end of the
    # target's chain: `record_baseline` reads the target once for all of them. A failure
    # is read now (Recipes API), so that its report names the failing recipes at once.
    clean = status == "completed" and all(
        r.import_result in SUCCESS_RESULTS for r in job.recipe_status
    )
    names = {} if clean else await _recipe_names(client, owner, folder_id)
    recipes = _recipes(job, names)
    ctx.recorder.import_saved(
        _import_record(change, job.id, package_id, digest, status, job, recipes)
    )
    outcome_recipes = [RecipeOutcome(r.id, r.name, r.import_result, r.position) for r in recipes]
    if status != "completed":
        message = job.error or f"import ended with status {job.status}"
        return timer.outcome(
            change,
            "failed",
            message=message,
            import_id=job.id,
            package_id=package_id,
            recipes=outcome_recipes,
        )
    return timer.outcome(
        change, "succeeded", import_id=job.id, package_id=package_id, recipes=outcome_recipes
    )


async def _target_folder(ctx: StepContext, change: Change, client: WorkatoClient) -> int:
    """The target folder's id. A folder named by path (live/targets.py) that does not exist
    yet is created here (`create_folders`); a resolved path is recorded in state, so later
    plans do not look it up again."""
    data = change.data
    folder_id = int(data["folder_id"])
    path = data.get("folder_path")
    if path is None and not data.get("environment") and data.get("fleet") is None:
        return folder_id
    if path is not None and not folder_id:
        folder_id = await ensure_folder(
            client, str(data["customer"]), str(path), create=bool(data.get("create_folders"))
        )
    ctx.recorder.target_resolved(
        str(change.target),
        ResolvedTarget(
            workspace=data["workspace"],
            customer=data.get("customer"),
            folder_path=path,
            folder_id=folder_id,
            fleet=data.get("fleet"),
        ),
    )
    return folder_id


def _folder_of(ctx: StepContext, change: Change) -> int:
    """The folder an import went into: created during this apply if the plan had none."""
    resolved = ctx.recorder.state.targets.get(str(change.target))
    folder_id = int(change.data["folder_id"])
    return resolved.folder_id if resolved is not None and not folder_id else folder_id


async def _start_import(
    ctx: StepContext, change: Change, client: WorkatoClient, package: Package, folder_id: int
) -> tuple[ImportJob, float]:
    """The started job, and the clock when Workato answered (as `_start_export`)."""
    data, target = change.data, str(change.target)
    # the marker is on disk before the POST (a write that fails stops here: nothing sent)
    ctx.recorder.import_pending(
        PendingImport(
            manifest=change.manifest,
            target=target,
            package_id=package.id,
            package_digest=package.digest,
            started_at=now_iso_ms(),
        )
    )
    await ctx.recorder.durable()
    try:
        started = await client.start_import(
            data.get("customer"),
            folder_id,
            package.data,
            restart_recipes=bool(data.get("restart_recipes")),
            include_tags=bool(data.get("include_tags")),
            folder_id_for_home_assets=data.get("folder_id_for_home_assets"),
        )
    except ApiError as exc:
        if _refused(exc):  # Workato answered "no": nothing was started
            ctx.recorder.import_unpending(change.manifest, target)
            raise
        ctx.recorder.import_answer_lost(change.manifest, target, str(exc))
        raise _LostAnswer(exc) from exc
    answered = client.settings.clock()
    ctx.recorder.import_saved(
        _import_record(change, started.id, package.id, package.digest, "in_progress")
    )
    await ctx.recorder.durable()  # the job id is on disk before anything else happens
    return started, answered


class _LostAnswer(RlcmError):
    """The import POST may have reached Workato, but its answer did not reach us."""

    def __init__(self, cause: ApiError) -> None:
        super().__init__(str(cause))
        self.cause = cause


async def _found_out(
    ctx: StepContext,
    change: Change,
    client: WorkatoClient,
    package: Package,
    timer: _Timer,
    folder_id: int,
    *,
    wait: bool,
) -> StepOutcome | None:
    """Whether Workato carried out an import whose answer never reached us: the target
    folder shows the package. Then the import is recorded (its job id stays unknown: 0)
    and the package is not sent again. With `wait`, the folder is read until it does or
    until the poll timeout (a lost answer in this run); without, once (the next run)."""
    data = change.data
    owner = data.get("customer")
    state = ctx.recorder.state
    before = state.last_import(change.manifest, str(change.target))
    baseline = state.baseline_of(before) if before is not None else None
    poll = client.settings.poll
    deadline = client.settings.clock() + (poll.timeout if wait else 0)
    interval = poll.interval
    home = data.get("folder_id_for_home_assets")
    connections_only = all(e.asset_type == "connection" for e in package.info.entries if e.name)
    while True:
        folder = await client.folder_assets(owner, folder_id)
        seen = folder
        if home is not None and connections_only:  # they land in the home-assets folder
            seen = folder + await client.folder_assets(owner, int(home))
        if shows_package(package.info, seen, _baseline_assets(baseline)):
            break
        remaining = deadline - client.settings.clock()
        if remaining <= 0:
            return None
        await client.settings.sleep(min(interval, remaining))
        interval = min(interval * 1.5, poll.max_interval)
    ctx.recorder.import_saved(_import_record(change, 0, package.id, package.digest, "completed"))
    log.info("import: found in the target folder address=%s", change.address)
    return timer.outcome(
        change,
        "succeeded",
        message="the import's answer was lost, but the target folder shows the package: "
        "recorded without sending it again",
        package_id=package.id,
    )


def _baseline_assets(baseline: TargetBaseline | None) -> list[AssetStamp] | None:
    """The target as its baseline recorded it (recipes, and other assets once drift read
    them), in folder_assets' terms; None without a baseline."""
    if baseline is None:
        return None
    recipes = [
        AssetStamp(type="recipe", name=r.name, version=r.version, id=r.id) for r in baseline.recipes
    ]
    return recipes + list(baseline.assets or [])


def shows_package(
    info: PackageInfo, folder: Sequence[Asset], before: Sequence[AssetStamp] | None
) -> bool:
    """The target folder holds what the package brings: every named asset of it, each at
    the package's version or changed since the last recorded import (`before`; None when
    there was none). Connections may live in the home-assets folder: a missing one is not
    held against it, but at least one asset must be found."""
    now = {(a.type, a.name): a for a in folder}
    prior = {(s.type, s.name): (s.id, s.version) for s in before} if before is not None else None
    found = 0
    for entry in info.entries:
        if not entry.name:
            continue
        key = (entry.asset_type, entry.name)
        asset = now.get(key)
        if asset is None:
            if entry.asset_type == "connection":
                continue
            return False
        found += 1
        if entry.version is not None and asset.version == entry.version:
            continue
        if prior is None or prior.get(key) != (asset.id, asset.version):
            continue  # new, or changed since the last import
        return False
    return found > 0


async def record_baseline(
    ctx: StepContext, chain: Sequence[Change], outcomes: Mapping[str, StepOutcome]
) -> list[StepOutcome]:
    """After one target's chain of imports, read its recipes once (Recipes API) and record
    them as the target's drift baseline, covering every import of the chain that completed
    (and the recipe names of their results).

    Imports into one folder run one after another, so the target after the last one is
    the baseline of the earlier ones too (a later package may even update a shared asset).
    One read per target, in the Recipes API's 2,000/minute bucket: the 60/minute "other"
    bucket is the scarce one at fleet scale and carries none of it. The target's other
    assets are not read here: after an import their baseline is cleared, and the next
    `rlcm drift` records it again (folder_assets, once). Returns the outcomes whose recipe
    names were filled in.
    """
    state = ctx.recorder.state
    done = [
        (change, outcome, record)
        for change in chain
        if (outcome := outcomes.get(change.address)) is not None
        and outcome.status == "succeeded"
        and (record := state.last_import(change.manifest, str(change.target)))
        and record.status == "completed"
        and record.import_id == outcome.import_id
        and state.baseline_of(record) is None
    ]
    if not done:
        return []
    data, target = done[0][0].data, str(done[0][0].target)
    old = state.baselines.get(target)
    try:
        recipes = await read_target_recipes(
            ctx.clients[data["workspace"]],
            data.get("customer"),
            _folder_of(ctx, done[0][0]),
            folders=old.folders if old is not None else (),
            known_ids=[
                r.id for _, _, record in done for r in record.recipe_results if r.id is not None
            ],
        )
    except RlcmError as exc:  # the imports succeeded: only their baseline is missing
        log.warning("baseline: recipe read failed target=%s error=%s", target, exc)
        return []
    by_id = {r.id: r for r in recipes}
    covered = {**(old.imports if old is not None else {})}
    named: list[StepOutcome] = []
    records: list[ImportRecord] = []
    for _, outcome, record in done:
        covered[record.manifest] = record.import_id
        results = [
            r
            if r.id is None
            else r.model_copy(update={"name": found.name if (found := by_id.get(r.id)) else None})
            for r in record.recipe_results
        ]
        records.append(record.model_copy(update={"recipe_results": results}))
        outcome_recipes = [
            _outcome(r, by_id.get(r.id) if r.id is not None else None) for r in results
        ]
        named.append(dataclasses.replace(outcome, recipes=outcome_recipes))
    baseline = TargetBaseline(
        target=target,
        imports=covered,
        read_at=now_iso(),
        folders=recipe_folders(recipes, _folder_of(ctx, done[0][0])),
        recipes=[recipe_stamp(r) for r in recipes],
    )
    ctx.recorder.baseline_saved(baseline, *records)
    return named


def _outcome(result: RecipeResult, live: LiveRecipe | None) -> RecipeOutcome:
    """A recipe's import result, with its health as the baseline read found it."""
    if live is None:
        return RecipeOutcome(result.id, result.name, result.import_result, result.position)
    return RecipeOutcome(
        result.id,
        result.name,
        result.import_result,
        result.position,
        running=live.running,
        stop_cause=live.stop_cause,
        job_succeeded_count=live.job_succeeded_count,
        job_failed_count=live.job_failed_count,
    )


async def _recipe_names(client: WorkatoClient, owner: str | None, folder_id: int) -> dict[int, str]:
    """Recipe id -> name in a target folder (Recipes API), to name an import's results."""
    try:
        return {r.id: r.name for r in await client.list_recipes(owner, folder_id=folder_id)}
    except RlcmError as exc:  # only the names are missing: the report shows ids
        log.warning("import: recipe names not read folder=%s error=%s", folder_id, exc)
        return {}


def _recipes(job: ImportJob, names: Mapping[int, str]) -> list[RecipeResult]:
    """Each recipe's result, named from the target (ids there are the target's)."""
    return [
        RecipeResult(
            id=r.id,
            name=None if r.id is None else names.get(r.id),
            import_result=r.import_result,
            position=r.position,
        )
        for r in job.recipe_status
    ]


def _import_record(
    change: Change,
    import_id: int,
    package_id: int,
    digest: str,
    status: Any,
    job: ImportJob | None = None,
    recipes: list[RecipeResult] | None = None,
) -> ImportRecord:
    return ImportRecord(
        manifest=change.manifest,
        target=str(change.target),
        import_id=import_id,
        package_id=package_id,
        package_digest=digest,
        status=status,
        error=job.error if job is not None and status == "failed" else None,
        recipe_results=recipes or [],
        started_at=now_iso(),
        finished_at=None if status == "in_progress" else now_iso(),
    )

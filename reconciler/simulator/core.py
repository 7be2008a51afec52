"""`Simulator`: the Python API over one simulator directory (seeding, controls, UI edits).

Every control is persisted in DIR, so it also steers a `SimTransport` or an `rlcm sim
serve` process that uses the same directory.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.simulator import model
from reconciler.simulator.admin import handle_admin
from reconciler.simulator.dialect import check_dialects
from reconciler.simulator.engine import Engine
from reconciler.simulator.faults import ENDPOINT_KINDS, FAULTS
from reconciler.simulator.imports import FAILURE_RESULTS, SUCCESS_RESULTS
from reconciler.simulator.messages import Reply, Request
from reconciler.simulator.seed import seed_demo
from reconciler.simulator.store import OWN, workspace_key

__all__ = ["Owner", "RequestRecord", "Simulator"]

Json = dict[str, Any]
Owner = str | int | None  # None or "own": the partner's own workspace; else a managed user
AssetRef = int | str  # an asset id, or a name


@dataclass(frozen=True)
class RequestRecord:
    """One logged request. Credential headers appear by name only, never by value."""

    method: str
    path: str
    query: dict[str, str]
    host: str
    auth: str  # bearer | legacy | none
    credential_headers: tuple[str, ...]
    status: int  # 0 when the connection was dropped
    kind: str | None  # endpoint kind, e.g. "import_status"; None for unknown paths
    family: str | None  # embedded | developer | assets
    user: str | None  # managed user reference as it appeared in the path


class Simulator:
    def __init__(self, directory: Path, *, time_scale: float = 1.0) -> None:
        self.directory = Path(directory)
        self.engine = Engine(self.directory, time_scale=time_scale)
        if time_scale != 1.0:
            self._update_controls(time_scale=time_scale)

    @classmethod
    def from_engine(cls, engine: Engine) -> Simulator:
        """A Simulator over an engine that exists already (its files are shared)."""
        sim = cls.__new__(cls)
        sim.directory = engine.store.directory
        sim.engine = engine
        return sim

    # -- requests ------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        """Answer one request; `/__sim/` reaches this Simulator's controls (admin.py)."""
        return self.engine.handle(request, admin=lambda r: handle_admin(self, r))

    # -- seeding -------------------------------------------------------------
    def seed_demo(self, customers: int = 0) -> None:
        with self.engine.store.locked():
            seed_demo(self.engine.store, customers)

    def is_seeded(self) -> bool:
        return bool(self.engine.users()["users"])

    # -- controls ------------------------------------------------------------
    def _update_controls(self, **changes: Any) -> None:
        store = self.engine.store
        with store.locked():
            store.write("controls.json", {**store.read("controls.json"), **changes})

    def set_time_scale(self, time_scale: float) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.engine.time_scale_override = time_scale
        self._update_controls(time_scale=time_scale)

    def set_latency(self, seconds: float) -> None:
        """Added to every answer, in simulated seconds."""
        self._update_controls(latency=float(seconds))

    def set_job_timing(self, *, duration: float | None = None, polls: int | None = None) -> None:
        """A job completes after `duration` simulated seconds or `polls` status polls."""
        changes: Json = {}
        if duration is not None:
            changes["job_duration"] = float(duration)
        if polls is not None:
            changes["job_polls"] = int(polls)
        self._update_controls(**changes)

    def set_rate_limits(
        self,
        enabled: bool = True,
        *,
        retry_after: bool = True,
        imports: float | None = None,
        import_status: float | None = None,
        other: float | None = None,
        dev_imports: float | None = None,
        per: Mapping[str, str] | None = None,
        fixed: Sequence[str] = (),
    ) -> None:
        """Enforce Workato's quotas (or the given ones: requests per window of that bucket).

        `per` sets a bucket's window, "minute" or "hour" (default: imports, import_status
        and other a minute, dev_imports an hour); a bucket in `fixed` counts in the clock's
        windows (reset at the top of the minute or hour) instead of a sliding one;
        `retry_after=False` answers 429 without a Retry-After header."""
        buckets = ("imports", "import_status", "other", "dev_imports")
        for bucket, window in (per or {}).items():
            if bucket not in buckets or window not in ("minute", "hour"):
                raise ValueError(f"per: {bucket}={window}: a bucket of {buckets}, minute or hour")
        for bucket in fixed:
            if bucket not in buckets:
                raise ValueError(f"fixed: unknown bucket {bucket!r}; one of {', '.join(buckets)}")
        limits: Json = {"enabled": enabled, "retry_after": retry_after}
        if per:
            limits["per"] = dict(per)
        if fixed:
            limits["fixed"] = sorted(set(fixed))
        given = {
            "imports": imports,
            "import_status": import_status,
            "other": other,
            "dev_imports": dev_imports,
        }
        limits.update({k: v for k, v in given.items() if v is not None})
        self.engine.limiter.reset()
        self._update_controls(rate_limits=limits)

    def set_dialect(self, names: Sequence[str] = ()) -> list[str]:
        """Answer in these dialects of Workato (simulator/dialect.py); () for the documents'
        own forms. Returns the switches now on."""
        chosen = check_dialects(list(names))
        self._update_controls(dialect=chosen)
        return chosen

    def enable_rate_limits(self, enabled: bool = True) -> None:
        """Switch quota enforcement on or off, keeping the quotas set before (if any)."""
        limits = dict(self.engine.controls().get("rate_limits") or {})
        self._update_controls(rate_limits={**limits, "enabled": enabled})

    def inject_fault(
        self,
        kind: str,
        fault: str | int,
        count: int = 1,
        *,
        retry_after: float | None = 1,
        delay: float = 45.0,
        processed: bool = False,
    ) -> None:
        """The next `count` requests of endpoint `kind` ("*" for any) fail with `fault`.

        `retry_after=None` sends a 429 without Retry-After; `delay` is the real seconds of a
        "slow" answer; `processed=True` runs the request before failing (a lost answer).
        """
        fault = str(fault)
        if kind != "*" and kind not in ENDPOINT_KINDS:
            raise ValueError(f"unknown endpoint kind {kind!r}; one of {', '.join(ENDPOINT_KINDS)}")
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        entry = {
            "kind": kind,
            "fault": fault,
            "remaining": count,
            "retry_after": retry_after,
            "delay": delay,
            "processed": processed,
        }
        faults = list(self.engine.controls().get("faults", []))
        self._update_controls(faults=[*faults, entry])

    def fail_next_import(
        self, owner: Owner, folder_id: int, results: Sequence[str] | Mapping[str, str]
    ) -> None:
        """The next import into `folder_id` gives these recipe results (in order, or by name).

        It waits for an import that has recipes (named ones, for a mapping): a package of
        connections imported first does not use it up.
        """
        values = list(results.values()) if isinstance(results, Mapping) else list(results)
        unknown = [v for v in values if v not in SUCCESS_RESULTS + FAILURE_RESULTS]
        if unknown:
            raise ValueError(f"unknown import_result {unknown[0]!r}")
        stored: Any = dict(results) if isinstance(results, Mapping) else values
        entry = {"workspace": self._key(owner), "folder_id": int(folder_id), "results": stored}
        self._update_controls(
            import_failures=[*self.engine.controls().get("import_failures", []), entry]
        )

    def fail_next_export(self, owner: Owner, error: str = "Export failed") -> None:
        entry = {"workspace": self._key(owner), "error": error}
        self._update_controls(
            export_failures=[*self.engine.controls().get("export_failures", []), entry]
        )

    def serve_package(self, manifest_name: str, blob: bytes | None) -> None:
        """Exports of manifest `manifest_name` yield exactly `blob` (any bytes, even a
        hostile or non-zip body) instead of a built package; None restores the real one."""
        overrides = dict(self.engine.controls().get("package_overrides", {}))
        if blob is None:
            overrides.pop(manifest_name, None)
        else:
            digest = hashlib.sha256(blob).hexdigest()
            folder = self.directory / "overrides"
            folder.mkdir(exist_ok=True)
            (folder / f"{digest}.zip").write_bytes(blob)
            overrides[manifest_name] = digest
        self._update_controls(package_overrides=overrides)

    def clear_faults(self) -> None:
        self._update_controls(faults=[], import_failures=[], export_failures=[])

    def set_request_logging(self, enabled: bool) -> None:
        self._update_controls(log_requests=enabled)

    def set_home_assets_project(self, owner: Owner, enabled: bool = True) -> None:
        """Home assets converted to a project: root-folder assets need folder_id_for_home_assets."""
        with self._workspace(owner) as ws:
            ws["home_assets_project"] = enabled

    # -- UI edits ------------------------------------------------------------
    def bump_recipe_version(
        self, owner: Owner, recipe: AssetRef, *, folder_id: int | None = None
    ) -> int:
        """A new version of a recipe, as if edited in the UI; returns the new version."""
        return self.change_asset(owner, recipe, folder_id=folder_id, asset_type="recipe")

    def change_asset(
        self,
        owner: Owner,
        asset: AssetRef,
        *,
        folder_id: int | None = None,
        asset_type: str | None = None,
    ) -> int:
        """Edit an asset's content (a recipe gets a new version); returns its version."""
        with self._workspace(owner) as ws:
            found = self._asset(ws, asset, folder_id, asset_type)
            body = copy.deepcopy(found["body"])
            if found["type"] == "recipe":
                code = body.setdefault("code", {})
                code.setdefault("input", {})["edited_in_ui"] = int(found["version"] or 0) + 1
            elif found["type"] == "lookup_table":
                body.setdefault("rows", []).append({"edited": "in the UI"})
            else:
                body["edited_in_ui"] = True
            model.set_asset_body(found, body)
            return int(found.get("version") or 0)

    def rename_asset(
        self, owner: Owner, asset: AssetRef, new_name: str, *, folder_id: int | None = None
    ) -> None:
        with self._workspace(owner) as ws:
            found = self._asset(ws, asset, folder_id)
            found["name"] = new_name
            found["body"]["name"] = new_name

    def delete_asset(self, owner: Owner, asset: AssetRef, *, folder_id: int | None = None) -> None:
        with self._workspace(owner) as ws:
            found = self._asset(ws, asset, folder_id)
            del ws["assets"][str(found["id"])]

    def start_recipe(self, owner: Owner, recipe: AssetRef, *, folder_id: int | None = None) -> None:
        self._set_running(owner, recipe, folder_id, True)

    def stop_recipe(self, owner: Owner, recipe: AssetRef, *, folder_id: int | None = None) -> None:
        self._set_running(owner, recipe, folder_id, False)

    def _set_running(
        self, owner: Owner, recipe: AssetRef, folder_id: int | None, running: bool
    ) -> None:
        with self._workspace(owner) as ws:
            self._asset(ws, recipe, folder_id, "recipe")["running"] = running

    def edit_manifest(self, owner: Owner, manifest_id: int, **changes: Any) -> None:
        """Change stored manifest fields (name, folder_id, assets...) as the UI would."""
        with self._workspace(owner) as ws:
            manifest = self._manifest(ws, manifest_id)
            manifest.update(changes)
            manifest["updated_at"] = model.now_iso()

    def archive_manifest(self, owner: Owner, manifest_id: int) -> None:
        with self._workspace(owner) as ws:
            manifest = self._manifest(ws, manifest_id)
            manifest["status"] = "archived"
            manifest["deleted_at"] = manifest["updated_at"] = model.now_iso()

    def add_managed_user(self, ref: str, user_id: int, folders: Mapping[int, str]) -> None:
        """A managed user (`E<external id>` or numeric) with empty folders."""
        store = self.engine.store
        with store.locked():
            users = copy.deepcopy(self.engine.users())
            external = ref[1:] if ref.startswith("E") else None
            users["users"][str(user_id)] = {"id": user_id, "external_id": external, "name": ref}
            ws = model.new_workspace(workspace_key(user_id), user_id)
            for folder_id, name in folders.items():
                model.add_folder(ws, folder_id, name)
            store.write("users.json", users)
            store.save_workspace(ws)

    # -- inspection ----------------------------------------------------------
    def folder_assets(self, owner: Owner, folder_id: int) -> list[Json]:
        """Assets in a folder and its subfolders, in the API's listing shape plus `running`."""
        with self.engine.store.locked():
            ws = self._load(owner)
            self.engine.settle_jobs(ws)
            folders = set(model.tree_folder_ids(ws, folder_id))
            return sorted(
                (
                    {
                        **model.asset_listing(ws, a, folder_id),
                        "running": bool(a.get("running")),
                        "folder_id": a["folder_id"],
                    }
                    for a in ws["assets"].values()
                    if a["folder_id"] in folders
                ),
                key=lambda a: (a["folder"], a["type"], a["name"]),
            )

    def asset(self, owner: Owner, asset: AssetRef, *, folder_id: int | None = None) -> Json:
        with self.engine.store.locked():
            return copy.deepcopy(self._asset(self._load(owner), asset, folder_id))

    def manifest(self, owner: Owner, manifest_id: int) -> Json | None:
        with self.engine.store.locked():
            found = self._load(owner)["manifests"].get(str(manifest_id))
            return copy.deepcopy(found) if found is not None else None

    def manifests(self, owner: Owner) -> dict[int, str]:
        """Id -> name of the owner's manifests that are not archived (what Workato's UI
        lists: no API call does)."""
        with self.engine.store.locked():
            found = self._load(owner)["manifests"]
            return {
                int(k): str(m["name"]) for k, m in found.items() if m.get("status") != "archived"
            }

    def job(self, owner: Owner, package_id: int) -> Json | None:
        with self.engine.store.locked():
            found = self._load(owner)["jobs"].get(str(package_id))
            return copy.deepcopy(found) if found is not None else None

    def jobs(self, kind: str | None = None) -> list[Json]:
        """Every export or import job of every workspace, oldest first.

        Each carries `workspace`, `created` and (once done) `finished` wall-clock times, so
        a test can tell how many jobs were in flight at once.
        """
        with self.engine.store.locked():
            found = [
                {**copy.deepcopy(job), "workspace": key}
                for key in self.engine.store.workspace_keys()
                for job in (self.engine.store.workspace(key) or {"jobs": {}})["jobs"].values()
                if kind is None or job["kind"] == kind
            ]
        return sorted(found, key=lambda job: (job["created"], job["id"]))

    def package_zip(self, package_id: int) -> bytes | None:
        return self.engine.store.package(package_id)

    def recipe_running(
        self, owner: Owner, recipe: AssetRef, *, folder_id: int | None = None
    ) -> bool:
        return bool(self.asset(owner, recipe, folder_id=folder_id).get("running"))

    def managed_user_id(self, ref: str | int) -> int | None:
        return self.engine.resolve_user(ref)

    def request_log(self) -> list[RequestRecord]:
        return [
            RequestRecord(
                method=e["method"],
                path=e["path"],
                query=e["query"],
                host=e["host"],
                auth=e["auth"],
                credential_headers=tuple(e["credential_headers"]),
                status=e["status"],
                kind=e.get("kind"),
                family=e.get("family"),
                user=e.get("user"),
            )
            for e in self.engine.store.read_log()
        ]

    def request_counts(self) -> dict[str, int]:
        """Requests per endpoint kind (e.g. {"import": 12, "import_status": 40})."""
        return dict(Counter(r.kind or "unknown" for r in self.request_log()))

    def clear_request_log(self) -> None:
        self.engine.store.clear_log()

    # -- internals -----------------------------------------------------------
    def _key(self, owner: Owner) -> str:
        if owner is None or owner == OWN:
            return OWN
        user_id = self.engine.resolve_user(owner)
        if user_id is None:
            raise KeyError(f"unknown managed user {owner!r}")
        return workspace_key(user_id)

    def _load(self, owner: Owner) -> Json:
        key = self._key(owner)
        ws = self.engine.store.workspace(key)
        if ws is None:
            if key == OWN:
                return model.new_workspace(OWN, None)
            raise KeyError(f"no workspace for {owner!r}")
        return ws

    def _workspace(self, owner: Owner) -> _Editing:
        return _Editing(self, owner)

    @staticmethod
    def _asset(
        ws: Json, ref: AssetRef, folder_id: int | None, asset_type: str | None = None
    ) -> Json:
        for asset in ws["assets"].values():
            if isinstance(ref, int) and asset["id"] != ref:
                continue
            if isinstance(ref, str) and asset["name"] != ref:
                continue
            if folder_id is not None and asset["folder_id"] != folder_id:
                continue
            if asset_type is not None and asset["type"] != asset_type:
                continue
            found: Json = asset
            return found
        raise KeyError(f"no asset {ref!r} in workspace {ws['key']}")

    @staticmethod
    def _manifest(ws: Json, manifest_id: int) -> Json:
        manifest: Json | None = ws["manifests"].get(str(manifest_id))
        if manifest is None:
            raise KeyError(f"no manifest {manifest_id} in workspace {ws['key']}")
        return manifest


class _Editing:
    """`with sim._workspace(owner) as ws:` loads under the lock and saves on success."""

    def __init__(self, sim: Simulator, owner: Owner) -> None:
        self.sim = sim
        self.owner = owner
        self._lock: Any = None
        self._ws: Json = {}

    def __enter__(self) -> Json:
        self._lock = self.sim.engine.store.locked()
        self._lock.__enter__()
        try:
            self._ws = self.sim._load(self.owner)
            return self._ws
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.sim.engine.store.save_workspace(self._ws)
            else:
                self.sim.engine.store.invalidate()
        finally:
            self._lock.__exit__(exc_type, exc, tb)

"""The request pipeline shared by every way of reaching the simulator.

route -> workspace -> auth -> rate limit -> fault -> handler -> corruption -> log.
Frontends (transport.py, serve.py) turn their requests into `Request` and play back the
`Reply`, including its delay and a dropped connection.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from reconciler.simulator import api, dialect
from reconciler.simulator.clock import Clock
from reconciler.simulator.customers import resolve_key
from reconciler.simulator.faults import DEFAULT_QUOTAS, RateLimiter, corrupt, fault_reply, too_many
from reconciler.simulator.imports import ImportParams
from reconciler.simulator.messages import Reply, Request, json_reply
from reconciler.simulator.model import new_workspace, now_iso
from reconciler.simulator.store import OWN, Store

__all__ = ["DEFAULT_AUTH", "AdminHandler", "Engine"]

log = logging.getLogger(__name__)
Json = dict[str, Any]
# answers `/__sim/` (admin.py through core.Simulator); the engine itself knows no controls
AdminHandler = Callable[[Request], Reply]
DEFAULT_AUTH: Json = {"tokens": ["demo-token"], "legacy": {"ops@partner.example": "demo-token"}}
CREDENTIAL_HEADERS = (
    "authorization",
    "x-user-email",
    "x-user-token",
    "cookie",
    "proxy-authorization",
    "x-api-key",
)
DEFAULT_CONTROLS: Json = {
    "latency": 0.0,
    "job_duration": 1.0,
    "job_polls": 2,
    "rate_limits": {"enabled": False, "retry_after": True},
    "faults": [],
    "import_failures": [],
    "log_requests": True,
    "bare_environment": "dev",  # what `:id` names for a customer with Environments
    "dialect": [],  # switches of simulator/dialect.py
}
DEV_SUCCESS = "no_update_or_updated_without_restart"  # the OpenAPI spelling


class Engine:
    def __init__(self, directory: Path, *, time_scale: float | None = None) -> None:
        self.store = Store(Path(directory))
        self.time_scale_override = time_scale
        self.limiter = RateLimiter.of(self.store.directory)

    # -- controls --------------------------------------------------------------
    def controls(self) -> Json:
        return {**DEFAULT_CONTROLS, **self.store.read("controls.json")}

    def save_controls(self, controls: Json) -> None:
        self.store.write("controls.json", controls)

    def dialects(self) -> list[str]:
        return list(self.controls().get("dialect") or [])

    def clock(self) -> Clock:
        scale = self.time_scale_override or float(
            self.store.read("controls.json").get("time_scale", 1.0)
        )
        return Clock(scale)

    def users(self) -> Json:
        return self.store.read("users.json", {"users": {}})

    def resolve_user(self, ref: str | int) -> int | None:
        """Numeric id, or `E` + external id, to the numeric id of a known managed user."""
        users = self.users()["users"]
        text = str(ref).strip()
        if text.isdigit():
            return int(text) if text in users else None
        if text.startswith("E"):
            for user in users.values():
                if user["external_id"] == text[1:]:
                    return int(user["id"])
        return None

    def resolve_key(self, ref: str | int) -> str | None:
        """The workspace a managed-user reference names: `:id`, `:id_test`, ... (customers.py)."""
        bare = str(self.controls().get("bare_environment", "dev"))
        return resolve_key(self.users()["users"], ref, bare)

    # -- the pipeline ----------------------------------------------------------
    def handle(self, request: Request, admin: AdminHandler | None = None) -> Reply:
        """Answer one request; `/__sim/` goes to `admin` (the Simulator's controls), if given."""
        started = time.perf_counter()
        with self.store.locked():
            try:
                reply, route = self._handle(request, admin)
            except Exception:
                log.exception(
                    "simulator: internal error on %s %s", request.method, request.raw_path
                )
                self.store.invalidate()
                reply, route = json_reply(500, {"message": "Internal server error"}), None
            controls = self.controls()
        reply.delay += self.clock().real(float(controls.get("latency", 0.0)))
        if controls.get("log_requests", True):
            self.store.append_log(self._log_entry(request, route, reply, started))
        return reply

    def _handle(
        self, request: Request, admin: AdminHandler | None
    ) -> tuple[Reply, api.Route | None]:
        if admin is not None and request.raw_path.rstrip("/").startswith("/__sim"):
            return admin(request), None
        route = api.match_route(request.method, request.raw_path, request.query)
        if route is None:
            return json_reply(404, {"message": "Not found"}), None
        if route.family == "assets":
            return self._asset_download(api.Call(self, request, route)), route
        if not self._authorized(request, route):
            return json_reply(401, {"message": "Unauthorized"}), route
        call = api.Call(self, request, route)
        try:
            call.ws = self._workspace(route)
            route = self._refine_kind(call)
            call.route = route
            return self._guarded(call), route
        except api.ApiError as exc:
            return json_reply(exc.status, exc.payload), route

    def _asset_download(self, call: api.Call) -> Reply:
        """The download host: no auth, but "download" faults apply to it as to the API."""
        fault = self._take_fault("download", self.controls())
        # a zip body has no fields to corrupt: only faults before or around the answer apply
        return self._answer(call, fault, corrupt_after=False)

    def _workspace(self, route: api.Route) -> Json:
        if route.family == "developer":
            ws = self.store.workspace(OWN)
            return ws if ws is not None else new_workspace(OWN, None)
        if route.user is None:
            return {}  # a partner-level call (the customers list): no workspace
        key = self.resolve_key(route.user)
        ws = self.store.workspace(key) if key is not None else None
        if ws is None:
            raise api.not_found()
        return ws

    def _refine_kind(self, call: api.Call) -> api.Route:
        """/api/packages/:id serves both job kinds: count and fault it as the one it is."""
        route = call.route
        if route.family == "developer" and route.handler is api.job_status:
            job = call.ws["jobs"].get(route.args[0].strip())
            if job is not None and job["kind"] == "import":
                return api.Route(
                    route.family, "import_status", "other", route.handler, None, route.args
                )
        return route

    def _guarded(self, call: api.Call) -> Reply:
        controls = self.controls()
        limited = self._rate_limit(call.route, controls, call.request.arrived)
        if limited is not None:
            return limited
        fault = self._take_fault(call.route.kind, controls)
        return self._answer(call, fault, corrupt_after=True)

    def _answer(self, call: api.Call, fault: Json | None, *, corrupt_after: bool) -> Reply:
        """Run the handler with `fault` applied: before it (the request never arrived),
        as a slow answer, or after it (the work was done, the answer is lost or bad)."""
        if fault is not None and not fault.get("processed"):
            early = fault_reply(fault)
            if early is not None:
                return early
        try:
            reply = call.route.handler(call)
        except api.ApiError as exc:
            reply = json_reply(exc.status, exc.payload)
        if fault is None:
            return reply
        if fault["fault"] == "slow":
            reply.delay += float(fault.get("delay", 45.0))
            return reply
        if not corrupt_after:
            return reply
        if fault["fault"] in ("wrong_type", "unknown_enum"):
            return corrupt(reply, fault["fault"])
        return fault_reply(fault) or reply

    def _authorized(self, request: Request, route: api.Route) -> bool:
        auth = self.store.read("meta.json").get("auth", DEFAULT_AUTH)
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip() in auth["tokens"]
        if route.family != "embedded":
            return False
        email = request.headers.get("x-user-email", "").strip()
        token = request.headers.get("x-user-token", "").strip()
        return bool(email) and auth["legacy"].get(email) == token

    def _rate_limit(self, route: api.Route, controls: Json, arrived: float | None) -> Reply | None:
        limits = controls.get("rate_limits", {})
        if not limits.get("enabled") or route.bucket is None:
            return None
        default_limit, window = DEFAULT_QUOTAS[route.bucket]
        limit = float(limits.get(route.bucket, default_limit))
        per = (limits.get("per") or {}).get(route.bucket)
        if per is not None:
            window = {"minute": 60.0, "hour": 3600.0}[per]
        fixed = route.bucket in (limits.get("fixed") or ())
        clock = self.clock()
        wait = self.limiter.check(route.bucket, limit, window, clock, arrived, fixed=fixed)
        if wait is None:
            return None
        # Retry-After speaks simulated seconds, like every other time the API states; a
        # client told `rate_limits.time_scale` divides it by the same factor
        return too_many(wait * clock.time_scale if limits.get("retry_after", True) else None)

    def _take_fault(self, kind: str, controls: Json) -> Json | None:
        faults: list[Json] = controls.get("faults", [])
        for index, fault in enumerate(faults):
            if fault["kind"] in (kind, "*"):
                remaining = int(fault.get("remaining", 1)) - 1
                rest = [f for i, f in enumerate(faults) if i != index]
                if remaining > 0:
                    rest.insert(index, {**fault, "remaining": remaining})
                self.save_controls({**self.store.read("controls.json"), "faults": rest})
                return dict(fault)
        return None

    # -- jobs ------------------------------------------------------------------
    def _new_job(self, call: api.Call, kind: str, **fields: Any) -> Json:
        controls = self.controls()
        job: Json = {
            "id": self.store.next_id("package"),
            "kind": kind,
            "family": call.route.family,
            "status": "in_progress",
            "created": time.time(),
            "polls": 0,
            "duration": float(controls["job_duration"]),
            "polls_needed": int(controls["job_polls"]),
            "error": None,
            **fields,
        }
        call.ws["jobs"][str(job["id"])] = job
        return job

    def start_export(self, call: api.Call, manifest: Json) -> Json:
        blob, error = api.build_package(call.ws, manifest)
        job = self._new_job(
            call,
            "export",
            export_manifest_id=manifest["id"],
            include_tags=bool(manifest.get("include_tags")),
            pending_error=error,
        )
        override = self.package_override(manifest.get("name"))
        if override is not None:
            blob = override
        forced = self._take_export_failure(call.ws)
        if forced is not None:
            job["pending_error"] = forced
        if blob is not None and job["pending_error"] is None:
            self.store.put_package(job["id"], blob)
            manifest["last_exported_at"] = now_iso()
        self._maybe_complete(call.ws, job, poll=False)
        return job

    def start_import(self, call: api.Call, blob: bytes, params: ImportParams) -> Json:
        job = self._new_job(
            call,
            "import",
            params=asdict(params),
            forced=self._take_import_failure(call.ws, params.folder_id, blob),
        )
        self.store.put_package(job["id"], blob)
        self._maybe_complete(call.ws, job, poll=False)
        return job

    def package_override(self, manifest_name: Any) -> bytes | None:
        """The bytes `Simulator.serve_package` set for exports of this manifest, if any."""
        digest = self.controls().get("package_overrides", {}).get(str(manifest_name))
        if not digest:
            return None
        try:
            return (self.store.directory / "overrides" / f"{digest}.zip").read_bytes()
        except FileNotFoundError:
            return None

    def _take_export_failure(self, ws: Json) -> str | None:
        controls = self.controls()
        failures = controls.get("export_failures", [])
        for index, failure in enumerate(failures):
            if failure["workspace"] == ws["key"]:
                rest = failures[:index] + failures[index + 1 :]
                self.save_controls({**self.store.read("controls.json"), "export_failures": rest})
                return str(failure.get("error") or "Export failed")
        return None

    def _take_import_failure(self, ws: Json, folder_id: int, blob: bytes) -> Any:
        """A forced failure waits for an import that has recipes it can fail (by name, when
        it names them): a connections-only package imported first does not use it up."""
        controls = self.controls()
        failures = controls.get("import_failures", [])
        recipes = _recipe_names(blob)
        for index, failure in enumerate(failures):
            if failure["workspace"] != ws["key"] or int(failure["folder_id"]) != folder_id:
                continue
            wanted = failure["results"]
            if not recipes or (isinstance(wanted, dict) and not recipes & set(wanted)):
                continue
            rest = failures[:index] + failures[index + 1 :]
            self.save_controls({**self.store.read("controls.json"), "import_failures": rest})
            return wanted
        return None

    def poll_job(self, call: api.Call, job: Json) -> None:
        self._maybe_complete(call.ws, job, poll=True)

    def settle_jobs(self, ws: Json) -> None:
        """Finish jobs whose time is up, so a folder read sees a finished import."""
        changed = False
        for job in ws["jobs"].values():
            if job["status"] == "in_progress":
                changed |= self._maybe_complete(ws, job, poll=False)
        if changed:
            self.store.save_workspace(ws)

    def _maybe_complete(self, ws: Json, job: Json, *, poll: bool) -> bool:
        if job["status"] != "in_progress":
            return False
        if poll:
            job["polls"] += 1
        elapsed = time.time() - job["created"]
        if job["polls"] < job["polls_needed"] and elapsed < self.clock().real(job["duration"]):
            return False
        job["finished"] = time.time()  # lets tests measure how many jobs overlapped
        if job["kind"] == "export":
            error = job.pop("pending_error", None)
            job["status"] = "failed" if error else "completed"
            job["error"] = error
        else:
            api.run_import(self, ws, job)
        return True

    def job_json(self, call: api.Call, job: Json) -> Json:
        if job["kind"] == "export":
            out: Json = {
                "id": job["id"],
                "operation_type": "export",
                "status": self._status(job),
                "include_tags": job["include_tags"],
                "export_manifest_id": job["export_manifest_id"],
                "download_url": None,
            }
            if job["status"] == "completed":
                out["download_url"] = self.download_url(call.request, job)
            if job["status"] == "failed":
                out["error"] = job["error"]
                out["download_url"] = "null"  # as the 2019 document's failed sample has it
            return out
        return self._import_json(call, job)

    def _import_json(self, call: api.Call, job: Json) -> Json:
        embedded = call.route.family == "embedded"
        failed = job["status"] == "failed"
        # The documents' status samples say "export" on imports; keep that on failures.
        out: Json = {
            "id": job["id"],
            "operation_type": "export" if failed and embedded else "import",
            "status": self._status(job),
        }
        if failed:
            out["error"] = job["error"]
        if job["status"] != "in_progress" and call.route.kind == "import_status":
            statuses = job.get("recipe_status") or []
            if not embedded:
                statuses = [
                    {**s, "import_result": DEV_SUCCESS}
                    if s["import_result"] == "no_update_or_update_without_restart"
                    else s
                    for s in statuses
                ]
            out["recipe_status"] = dialect.recipe_statuses(self.dialects(), statuses)
        return out

    def _status(self, job: Json) -> str:
        status = str(job["status"])
        return dialect.running_status(self.dialects()) if status == "in_progress" else status

    def import_running(self, ws: Json) -> bool:
        """An import of this workspace is still running (after settling finished ones)."""
        self.settle_jobs(ws)
        return any(
            job["kind"] == "import" and job["status"] == "in_progress"
            for job in ws["jobs"].values()
        )

    # -- downloads -------------------------------------------------------------
    def package_key(self, package_id: int) -> str:
        meta = self.store.read("meta.json")
        secret = meta.get("secret")
        if not secret:
            meta["secret"] = secret = secrets.token_hex(16)
            self.store.write("meta.json", meta)
        return hashlib.sha256(f"{secret}:{package_id}".encode()).hexdigest()[:24]

    def download_url(self, request: Request, job: Json) -> str:
        key = self.package_key(job["id"])
        return f"{assets_base(request)}/packages/zip_files/{job['id']}/original/{key}.zip"

    # -- log -------------------------------------------------------------------
    def _log_entry(
        self, request: Request, route: api.Route | None, reply: Reply, started: float
    ) -> Json:
        header = request.headers.get("authorization", "")
        style = "none"
        if header.lower().startswith("bearer "):
            style = "bearer"
        elif "x-user-email" in request.headers or "x-user-token" in request.headers:
            style = "legacy"
        return {
            "time": time.time(),
            "method": request.method,
            "path": unquote(request.raw_path),
            "raw_path": request.raw_path,
            "query": dict(request.query),
            "host": request.host,
            "family": route.family if route else None,
            "kind": route.kind if route else None,
            "user": route.user if route else None,
            "auth": style,
            "credential_headers": sorted(h for h in request.headers if h in CREDENTIAL_HEADERS),
            "status": 0 if reply.drop else reply.status,
            "dropped": reply.drop,
            "ms": round((time.perf_counter() - started) * 1000, 3),
        }


def _recipe_names(blob: bytes) -> set[str]:
    from reconciler.simulator.packages import BadPackage, read_zip

    try:
        entries = read_zip(blob)
    except BadPackage:
        return set()
    return {str(e.body.get("name")) for e in entries if e.asset_type == "recipe"}


def assets_base(request: Request) -> str:
    """The download host: always another origin than the API's.

    In process `workato.sim` -> `assets.workato.sim`; over HTTP on 127.0.0.1:PORT ->
    localhost:PORT and vice versa (one server, two origins).
    """
    host, _, port = request.host.partition(":")
    suffix = f":{port}" if port else ""
    if host == "127.0.0.1":
        return f"{request.scheme}://localhost{suffix}"
    if host == "localhost":
        return f"{request.scheme}://127.0.0.1{suffix}"
    if host.startswith("assets."):
        return f"{request.scheme}://{request.host}"
    return f"{request.scheme}://assets.{host}{suffix}"

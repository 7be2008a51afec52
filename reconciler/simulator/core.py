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

from reconciler.simulator import model, recipes
from reconciler.simulator.admin import handle_admin
from reconciler.simulator.customers import ENVIRONMENTS, env_workspace_key, find_user
from reconciler.simulator.dialect import check_dialects
from reconciler.simulator.engine import DEFAULT_AUTH, Engine
from reconciler.simulator.faults import CUSTOMER_KINDS, ENDPOINT_KINDS, FAULTS, RECIPE_KINDS
from reconciler.simulator.imports import FAILURE_RESULTS, SUCCESS_RESULTS
from reconciler.simulator.messages import Reply, Request
from reconciler.simulator.seed import add_asset, seed_demo
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
        customers: float | None = None,
        folders: float | None = None,
        recipes: float | None = None,
        recipe_actions: float | None = None,
        dev_recipes: float | None = None,
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
            "customers": customers,
            "folders": folders,
            "recipes": recipes,
            "recipe_actions": recipe_actions,
            "dev_recipes": dev_recipes,
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
        kinds = ENDPOINT_KINDS + RECIPE_KINDS + CUSTOMER_KINDS
        if kind != "*" and kind not in kinds:
            raise ValueError(f"unknown endpoint kind {kind!r}; one of {', '.join(kinds)}")
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

    def set_bare_environment(self, environment: str) -> None:
        """What a bare `:id` names for a customer with Environments: "dev" (the
        Environments API page) or "prod" (another page says so); `:id_dev|_test|_prod`
        always name their own workspace."""
        if environment not in ("dev", "prod"):
            raise ValueError("bare_environment must be dev or prod")
        self._update_controls(bare_environment=environment)

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

    def stop_recipe(
        self,
        owner: Owner,
        recipe: AssetRef,
        *,
        folder_id: int | None = None,
        cause: str | None = None,
    ) -> None:
        """Stop a recipe, by a user (no cause) or as Workato does (`cause`, one of
        recipes.STOP_CAUSES, e.g. trigger_errors_limit); the Recipes API shows both."""
        with self._workspace(owner) as ws:
            recipes.mark_stopped(self._asset(ws, recipe, folder_id, "recipe"), cause)

    def _set_running(
        self, owner: Owner, recipe: AssetRef, folder_id: int | None, running: bool
    ) -> None:
        with self._workspace(owner) as ws:
            asset = self._asset(ws, recipe, folder_id, "recipe")
            if running:
                recipes.mark_running(asset)
            else:
                recipes.mark_stopped(asset, None)

    def add_jobs(
        self,
        owner: Owner,
        recipe: AssetRef,
        *,
        failed: int = 0,
        succeeded: int = 0,
        folder_id: int | None = None,
    ) -> None:
        """Jobs a recipe ran: its job counts in the Recipes API grow by these."""
        with self._workspace(owner) as ws:
            found = self._asset(ws, recipe, folder_id, "recipe")
            recipes.add_jobs(found, failed=int(failed), succeeded=int(succeeded))

    def set_connection_authorized(
        self,
        owner: Owner,
        connection: AssetRef,
        authorized: bool = True,
        *,
        folder_id: int | None = None,
    ) -> None:
        """A connection the customer has (not) authorized: a recipe that uses an
        unauthorized one does not start (`success: false` with `config_errors`)."""
        with self._workspace(owner) as ws:
            self._asset(ws, connection, folder_id, "connection")["authorized"] = bool(authorized)

    def set_recipes_shape(self, shape: str | None) -> None:
        """How recipe lists are wrapped: `result`, `items` or bare; None: as documented
        (embedded `result`, developer API `items`)."""
        if shape is not None and shape not in recipes.SHAPES:
            raise ValueError(f"unknown recipes shape {shape!r}; one of {', '.join(recipes.SHAPES)}")
        self._update_controls(recipes_shape=shape)

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

    # -- customers (customers.py) ---------------------------------------------
    def add_customer(
        self,
        ref: str,
        user_id: int | None = None,
        *,
        name: str | None = None,
        plan_id: str = "oem_plan",
        folders: Mapping[int, str] | Sequence[str] | None = None,
        environments: bool = False,
    ) -> int:
        """A new customer, as created in Workato's admin console; returns its numeric id.

        `ref` is `E<external id>` or a numeric id. `folders` are top-level folders of its
        workspace: {id: name}, or names (ids handed out). With `environments`, TEST and
        PROD workspaces are provisioned too (empty, as Workato provisions them)."""
        store = self.engine.store
        with store.locked():
            users = copy.deepcopy(self.engine.users())
            external = ref[1:] if ref.startswith("E") else None
            if user_id is None:
                user_id = int(ref) if external is None else store.next_id("user")
            if str(user_id) in users["users"] or (
                external is not None and find_user(users["users"], ref) is not None
            ):
                raise ValueError(f"customer {ref!r} exists already")
            label = name or (external.lstrip("-") if external else ref)
            users["users"][str(user_id)] = {
                "id": user_id, "external_id": external, "name": label, "plan_id": plan_id,
                "created_at": model.now_iso(), "updated_at": model.now_iso(),
            }  # fmt: skip
            ws = model.new_workspace(workspace_key(user_id), user_id)
            items = folders.items() if isinstance(folders, Mapping) else (
                (store.next_id("folder"), f) for f in folders or ()
            )  # fmt: skip
            for folder_id, folder_name in items:
                model.add_folder(ws, int(folder_id), folder_name)
            store.write("users.json", users)
            store.save_workspace(ws)
            if environments:
                self.provision_environments(ref)
            return user_id

    def remove_customer(self, ref: str | int) -> None:
        """Delete a customer and its workspaces (every environment's)."""
        store = self.engine.store
        with store.locked():
            users = copy.deepcopy(self.engine.users())
            user = find_user(users["users"], str(ref))
            if user is None:
                raise KeyError(f"unknown managed user {ref!r}")
            del users["users"][str(user["id"])]
            for env in ENVIRONMENTS:
                path = store.directory / "workspaces" / f"{env_workspace_key(user['id'], env)}.json"
                path.unlink(missing_ok=True)
            store.write("users.json", users)
            store.invalidate()

    def provision_environments(self, ref: str | int) -> dict[str, int]:
        """Environments for a customer: its workspace becomes DEV, empty TEST and PROD
        workspaces get ids of their own. Returns {"test": id, "prod": id}."""
        store = self.engine.store
        with store.locked():
            users = copy.deepcopy(self.engine.users())
            user = find_user(users["users"], str(ref))
            if user is None:
                raise KeyError(f"unknown managed user {ref!r}")
            if user.get("environments"):
                return dict(user["environments"])
            user_id = int(user["id"])
            ids = {env: store.next_id("user") for env in ("test", "prod")}
            for env in ids:
                store.save_workspace(model.new_workspace(env_workspace_key(user_id, env), user_id))
            user["environments"] = ids
            store.write("users.json", users)
            return ids

    def customers(self) -> list[Json]:
        """Every customer as GET /api/managed_users lists it."""
        from reconciler.simulator.customers import customer_json

        users = self.engine.users()["users"]
        return [customer_json(u) for u in sorted(users.values(), key=lambda u: int(u["id"]))]

    def add_folder(self, owner: Owner, name: str, parent_id: int | None = None) -> int:
        """A folder made in the UI; returns its id."""
        with self._workspace(owner) as ws:
            return int(
                model.add_folder(ws, self.engine.store.next_id("folder"), name, parent_id)["id"]
            )

    def add_asset(
        self, owner: Owner, asset_type: str, name: str, folder_id: int, body: Json | None = None
    ) -> int:
        """An asset made in the UI in folder `folder_id` (a connection, a lookup table...:
        `body` as its export holds it, by default just its name); returns its id."""
        with self._workspace(owner) as ws:
            if str(folder_id) not in ws["folders"]:
                raise KeyError(f"no folder {folder_id} in workspace {ws['key']}")
            content = {"name": name, **(body or {})}
            store = self.engine.store
            return int(add_asset(store, ws, asset_type, name, folder_id, content)["id"])

    def folders(self, owner: Owner) -> dict[int, Json]:
        """Id -> {id, name, parent_id} of every folder of the owner's workspace."""
        with self.engine.store.locked():
            return {int(k): dict(v) for k, v in self._load(owner)["folders"].items()}

    def seed_imported(
        self,
        owner: Owner,
        folder_id: int,
        manifests: Sequence[str] | None = None,
        *,
        source: Owner = "E-template",
    ) -> list[str]:
        """Put the source's current packages into a customer folder, as a script that
        imported them by hand would have: no job, no request log, nothing rlcm knows of.

        A manifest's current package is its last completed export, else one built now.
        Returns the names of the manifests seeded."""
        from reconciler.simulator.api import build_package
        from reconciler.simulator.imports import ImportParams, apply_import
        from reconciler.simulator.packages import read_zip

        with self.engine.store.locked():
            src = self._load(source)
            chosen = [
                m for m in src["manifests"].values()
                if m.get("status") != "archived" and (manifests is None or m["name"] in manifests)
            ]  # fmt: skip
            missing = set(manifests or ()) - {m["name"] for m in chosen}
            if missing:
                raise KeyError(f"no manifest named {sorted(missing)[0]!r} in {source!r}")
            with self._workspace(owner) as ws:
                if str(folder_id) not in ws["folders"]:
                    raise KeyError(f"no folder {folder_id} in workspace {ws['key']}")
                for manifest in chosen:
                    blob = self._current_package(src, manifest) or build_package(src, manifest)[0]
                    if blob is None:
                        raise ValueError(f"manifest {manifest['name']!r} cannot be exported")
                    params = ImportParams(int(folder_id), True, bool(manifest.get("include_tags")))
                    new_id = lambda: self.engine.store.next_id("asset")  # noqa: E731
                    apply_import(ws, read_zip(blob), params, new_id, None)
            return [m["name"] for m in chosen]

    def _current_package(self, ws: Json, manifest: Json) -> bytes | None:
        done = [
            j for j in ws["jobs"].values()
            if j["kind"] == "export" and j.get("export_manifest_id") == manifest["id"]
            and j["status"] == "completed"
        ]  # fmt: skip
        for job in sorted(done, key=lambda j: j["id"], reverse=True):
            blob = self.engine.store.package(int(job["id"]))
            if blob is not None:
                return blob
        return None

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

    def overview(self) -> Json:
        """What a user needs to drive this simulator (`rlcm sim ids`, `rlcm sim serve`): the
        accepted tokens, and per workspace its owner reference, folders, manifests, assets."""
        with self.engine.store.locked():
            auth = self.engine.store.read("meta.json").get("auth", DEFAULT_AUTH)
            users = self.engine.users()["users"]
            keys = self.engine.store.workspace_keys()
            spaces = [ws for ws in map(self.engine.store.workspace, keys) if ws is not None]
            return {
                "tokens": list(auth["tokens"]),
                "legacy_emails": sorted(auth["legacy"]),
                "workspaces": [_workspace_overview(ws, users) for ws in spaces],
            }

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
        key = self.engine.resolve_key(owner)
        if key is None:
            raise KeyError(f"unknown managed user {owner!r}")
        return key

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


def _owner_ref(ws: Json, users: Json) -> str:
    """How a command names the workspace: `own`, `E<external id>`, or the numeric id."""
    if ws["user_id"] is None:
        return OWN
    user = users.get(str(ws["user_id"])) or {}
    external = user.get("external_id")
    return f"E{external}" if external is not None else str(ws["user_id"])


def _workspace_overview(ws: Json, users: Json) -> Json:
    return {
        "owner": _owner_ref(ws, users),
        "user_id": ws["user_id"],
        "folders": [
            {"id": f["id"], "name": f["name"], "parent_id": f["parent_id"]}
            for f in sorted(ws["folders"].values(), key=lambda f: f["id"])
        ],
        "manifests": [
            {"id": m["id"], "name": m["name"], "folder_id": m.get("folder_id"),
             "status": m.get("status")}
            for m in sorted(ws["manifests"].values(), key=lambda m: m["id"])
        ],
        "assets": [
            {"id": a["id"], "type": a["type"], "name": a["name"], "folder_id": a["folder_id"],
             "version": a.get("version"), "running": bool(a.get("running"))}
            for a in sorted(ws["assets"].values(), key=lambda a: a["id"])
        ],
    }  # fmt: skip

"""Routes of the three API families, answered as the documents show them.

Embedded   /api/managed_users/:id/{export_manifests,exports,imports}...   bearer or legacy
Customers  /api/managed_users (customers.py), /api/managed_users/:id/folders (folders.py)
Developer  /api/export_manifests..., /api/packages/...                   bearer
           /api/managed_users/:id/recipes...   the Recipes API (recipes.py)
Developer  /api/export_manifests..., /api/packages/..., /api/recipes...   bearer
Assets     /packages/zip_files/...  the download host (any Host), no auth

The documents' misprints are accepted too: DELETE /managed_users/:id/api/export_manifests/:id,
GET /managed_users/:id/imports/:package_id, and GET .../export_manifests?folder_id= as
folder_assets.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from reconciler.simulator import dialect, model, recipes
from reconciler.simulator.calls import ApiError, Call, Handler, Jobs, Route, invalid, not_found
from reconciler.simulator.customers import customers_list
from reconciler.simulator.folders import folder_create, folders_list
from reconciler.simulator.imports import ImportParams, apply_import
from reconciler.simulator.messages import Reply, json_reply
from reconciler.simulator.packages import MAX_PACKAGE_BYTES, BadPackage, build_zip, read_zip

__all__ = [
    "ApiError",
    "Call",
    "Handler",
    "Jobs",
    "Route",
    "invalid",
    "match_route",
    "not_found",
]

Json = dict[str, Any]


def _segments(raw_path: str) -> list[str]:
    return [unquote(s) for s in raw_path.split("/") if s]


def match_route(method: str, raw_path: str, query: dict[str, str]) -> Route | None:
    parts = _segments(raw_path)
    if parts == ["api", "managed_users"] and method == "GET":
        return Route("embedded", "customers_list", "customers", customers_list)
    if parts[:2] == ["packages", "zip_files"] and len(parts) >= 3 and method == "GET":
        return Route("assets", "asset_download", None, asset_download, args=tuple(parts[2:]))
    if len(parts) >= 4 and parts[0] == "api" and parts[1] == "managed_users":
        return _embedded(method, parts[2], parts[3:], query)
    if len(parts) >= 4 and parts[0] == "managed_users" and parts[2] == "api":
        return _embedded(method, parts[1], parts[3:], query)  # the delete sample's misprint
    if len(parts) >= 3 and parts[0] == "managed_users":
        return _embedded(method, parts[1], parts[2:], query)  # the OEM status misprint
    if parts[:1] == ["api"]:
        return _developer(method, parts[1:])
    return None


def _embedded(method: str, user: str, rest: list[str], query: dict[str, str]) -> Route | None:
    def r(kind: str, handler: Handler, *args: str, bucket: str = "other") -> Route:
        return Route("embedded", kind, bucket, handler, user, args)

    head, tail = rest[0], rest[1:]
    if head == "folders" and not tail and method in ("GET", "POST"):
        handler = folders_list if method == "GET" else folder_create
        kind = "folders_list" if method == "GET" else "folder_create"
        return r(kind, handler, bucket="folders")
    if head == "export_manifests":
        return _manifest_route(method, tail, query, r)
    if head == "exports" and len(tail) == 1:
        if method == "POST":
            return r("export", export_create, tail[0])
        if method == "GET":
            return r("export_status", job_status, tail[0])
    if head == "recipes":
        return _recipes_route(method, tail, r, read="recipes", action="recipe_actions")
    if head == "imports":
        if not tail and method == "POST":
            return r("import", import_create, bucket="imports")
        if len(tail) == 1 and method == "GET":
            return r("import_status", job_status, tail[0], bucket="import_status")
    return None


def _manifest_route(
    method: str, tail: list[str], query: dict[str, str], r: Callable[..., Route]
) -> Route | None:
    if tail == ["folder_assets"] and method == "GET":
        return r("folder_assets", folder_assets)
    if not tail and method == "GET" and "folder_id" in query:
        return r("folder_assets", folder_assets)  # the folder_assets sample's misprint
    if not tail and method == "POST":
        return r("manifest_create", manifest_create)
    if len(tail) == 1:
        if method == "GET":
            return r("manifest_view", manifest_view, tail[0])
        if method in ("PUT", "POST", "PATCH"):
            return r("manifest_update", manifest_update, tail[0])
        if method == "DELETE":
            return r("manifest_delete", manifest_delete, tail[0])
    return None


def _recipes_route(
    method: str, tail: list[str], r: Callable[..., Route], *, read: str, action: str
) -> Route | None:
    if not tail and method == "GET":
        return r("recipes_list", recipes_list, bucket=read)
    if len(tail) == 1 and method == "GET":
        return r("recipe_view", recipe_view, tail[0], bucket=read)
    if len(tail) == 2 and method == "PUT" and tail[1] in ("start", "stop"):
        handler = recipe_start if tail[1] == "start" else recipe_stop
        return r(f"recipe_{tail[1]}", handler, tail[0], bucket=action)
    return None


def _developer(method: str, rest: list[str]) -> Route | None:
    def r(kind: str, handler: Handler, *args: str, bucket: str = "other") -> Route:
        return Route("developer", kind, bucket, handler, None, args)

    if rest[:1] == ["export_manifests"]:
        return _manifest_route(method, rest[1:], {}, r)
    if rest[:1] == ["recipes"]:  # the developer API's recipe calls: one 60/minute bucket
        return _recipes_route(method, rest[1:], r, read="dev_recipes", action="dev_recipes")
    if rest[:1] != ["packages"]:
        return None
    tail = rest[1:]
    if len(tail) == 2 and tail[0] == "export" and method == "POST":
        return r("export", export_create, tail[1])
    if len(tail) == 2 and tail[0] == "import" and method == "POST":
        return r("import", import_create, tail[1], bucket="dev_imports")
    if len(tail) == 1 and method == "GET":
        return r("export_status", job_status, tail[0])  # kind refined by the engine
    if len(tail) == 2 and tail[1] == "download" and method == "GET":
        return r("download", package_download, tail[0])
    return None


# -- helpers -----------------------------------------------------------------------
def _int(value: Any, field_name: str, status: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(status, field_name, "must be an integer") from None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def _validation_status(call: Call) -> int:
    # The embedded document shows 422-style bodies; the developer API's OpenAPI says 400.
    return 422 if call.embedded else 400


def _folder(call: Call, folder_id: int) -> Json:
    folder: Json | None = call.ws["folders"].get(str(folder_id))
    if folder is None:
        raise not_found()
    return folder


def _manifest(call: Call, manifest_id: str) -> Json:
    manifest: Json | None = call.ws["manifests"].get(manifest_id.strip())
    if manifest is None:
        raise not_found()
    return manifest


# -- folder assets ---------------------------------------------------------------
def folder_assets(call: Call) -> Reply:
    query = call.request.query
    root = _int(query["folder_id"], "folder_id", 400) if query.get("folder_id") else None
    if root is not None:
        _folder(call, root)
    call.engine.settle_jobs(call.ws)
    folders = set(model.tree_folder_ids(call.ws, root))
    dialects = call.engine.dialects()
    assets = [
        dialect.folder_asset_fields(dialects, model.asset_listing(call.ws, asset, root))
        for asset in call.ws["assets"].values()
        if asset["folder_id"] in folders or (root is None)
    ]
    assets.sort(key=lambda a: (a["folder"], a["type"], a["name"]))
    return json_reply(200, {"result": {"assets": assets}})


# -- recipes (recipes.py answers; these bind it to the workspace and the shape switch) --
def recipes_list(call: Call) -> Reply:
    call.engine.settle_jobs(call.ws)  # a finished import's recipes are listed
    default = "result" if call.embedded else "items"
    shape = call.engine.store.read("controls.json").get("recipes_shape") or default
    return json_reply(*recipes.list_recipes(call.ws, call.request.query, shape))


def recipe_view(call: Call) -> Reply:
    call.engine.settle_jobs(call.ws)
    return json_reply(*recipes.get_recipe(call.ws, call.route.args[0]))


def recipe_start(call: Call) -> Reply:
    status, payload = recipes.start_recipe(call.ws, call.route.args[0])
    call.engine.store.save_workspace(call.ws)
    return json_reply(status, payload)


def recipe_stop(call: Call) -> Reply:
    status, payload = recipes.stop_recipe(call.ws, call.route.args[0])
    call.engine.store.save_workspace(call.ws)
    return json_reply(status, payload)


# -- manifests ---------------------------------------------------------------------
_MANIFEST_FLAGS = ("auto_generate_assets", "include_test_cases", "include_data", "include_tags")


def _manifest_fields(call: Call, body: Json, existing: Json | None) -> Json:
    status = _validation_status(call)
    payload = body.get("export_manifest", body)
    if not isinstance(payload, dict):
        raise invalid(status, "export_manifest", "must be an object")
    fields: Json = dict(existing or {})
    name = payload.get("name", fields.get("name"))
    if not isinstance(name, str) or not name.strip():
        raise invalid(status, "name", "can't be blank")
    fields["name"] = name
    folder_id = payload.get("folder_id", fields.get("folder_id"))
    if folder_id is None:
        raise invalid(status, "folder_id", "can't be blank")
    folder_id = _int(folder_id, "folder_id", status)
    if str(folder_id) not in call.ws["folders"]:
        raise invalid(status, "folder_id", f"folder {folder_id} not found")
    fields["folder_id"] = folder_id
    for flag in _MANIFEST_FLAGS:
        if flag in payload:
            fields[flag] = bool(payload[flag])
        fields.setdefault(flag, False)
    if "assets" in payload or existing is None:
        fields["assets"] = _manifest_assets(call, payload.get("assets"), fields, status)
    return fields


def _manifest_assets(call: Call, assets: Any, fields: Json, status: int) -> list[Json] | None:
    if fields["auto_generate_assets"] and not assets:
        return None
    if not isinstance(assets, list) or not assets:
        raise invalid(status, "assets", "can't be blank")
    out = []
    for index, item in enumerate(assets):
        if not isinstance(item, dict) or "id" not in item or "type" not in item:
            raise invalid(status, f"assets[{index}]", "needs id and type")
        asset = call.ws["assets"].get(str(item["id"]))
        if asset is None or asset["type"] != item["type"]:
            raise invalid(status, f"assets[{index}]", f"{item['type']} {item['id']} not found")
        entry = model.asset_listing(call.ws, asset, fields["folder_id"])
        entry.update({k: v for k, v in item.items() if k in entry or k in ("version", "deps")})
        entry["checked"] = bool(item.get("checked", True))
        entry.setdefault("deps", [])
        out.append(entry)
    return out


def _project_path(call: Call, manifest: Json) -> str:
    folder = call.ws["folders"].get(str(manifest["folder_id"]))
    return (
        folder["name"]
        if folder and folder.get("parent_id") is None
        else (model.folder_path(call.ws, manifest["folder_id"]) or "Home assets")
    )


def manifest_view_json(call: Call, manifest: Json, *, with_assets: bool) -> Json:
    view: Json = {
        "id": manifest["id"],
        "name": manifest["name"],
        "created_at": manifest["created_at"],
        "updated_at": manifest["updated_at"],
        "deleted_at": manifest["deleted_at"],
        "last_exported_at": manifest["last_exported_at"],
        "project_path": _project_path(call, manifest),
        "status": manifest["status"],
        "include_tags": manifest.get("include_tags", False),
    }
    if with_assets and manifest.get("assets") is not None:
        view["assets"] = manifest["assets"]
        view["diff_included"] = False
    return view


def manifest_create(call: Call) -> Reply:
    fields = _manifest_fields(call, call.json_body(), None)
    now = model.now_iso()
    manifest = {
        **fields,
        "id": call.engine.store.next_id("manifest"),
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
        "last_exported_at": None,
        "status": "working",
    }
    call.ws["manifests"][str(manifest["id"])] = manifest
    if fields.get("auto_generate_assets") and call.json_body().get("export_manifest", {}).get(
        "auto_run"
    ):
        call.engine.start_export(call, manifest)
    call.engine.store.save_workspace(call.ws)
    # The OpenAPI description (and real answers) of the developer API say 201.
    return json_reply(
        200 if call.embedded else 201,
        {"result": manifest_view_json(call, manifest, with_assets=False)},
    )


def manifest_view(call: Call) -> Reply:
    manifest = _manifest(call, call.route.args[0])
    return json_reply(200, {"result": manifest_view_json(call, manifest, with_assets=True)})


def manifest_update(call: Call) -> Reply:
    manifest = _manifest(call, call.route.args[0])
    if manifest["status"] == "archived":
        raise invalid(_validation_status(call), "id", "export manifest is archived")
    manifest.update(_manifest_fields(call, call.json_body(), manifest))
    manifest["updated_at"] = model.now_iso()
    call.engine.store.save_workspace(call.ws)
    return json_reply(200, {"result": manifest_view_json(call, manifest, with_assets=True)})


def manifest_delete(call: Call) -> Reply:
    manifest = _manifest(call, call.route.args[0])
    if manifest["status"] != "archived":
        manifest["status"] = "archived"
        manifest["deleted_at"] = manifest["updated_at"] = model.now_iso()
        call.engine.store.save_workspace(call.ws)
    return json_reply(200, {"result": {"success": True, "status": "destroyed"}})


# -- exports -------------------------------------------------------------------------
def export_create(call: Call) -> Reply:
    manifest = _manifest(call, call.route.args[0])
    job = call.engine.start_export(call, manifest)
    call.engine.store.save_workspace(call.ws)
    return json_reply(200, call.engine.job_json(call, job))


def build_package(ws: Json, manifest: Json) -> tuple[bytes | None, str | None]:
    """(zip, None) or (None, error) for a manifest as it stands now."""
    if manifest["status"] == "archived":
        return None, "Export manifest is archived"
    root = manifest["folder_id"]
    picks: list[tuple[Json, Json, str | None]] = []
    if manifest.get("assets") is None:
        folders = set(model.tree_folder_ids(ws, root))
        for asset in ws["assets"].values():
            if asset["folder_id"] in folders:
                picks.append((asset, model.body_at_version(asset, None) or {}, None))
    else:
        for item in manifest["assets"]:
            if not item.get("checked", True):
                continue
            asset = ws["assets"].get(str(item["id"]))
            if asset is None:
                return (
                    None,
                    f"Asset {item['type']} {item['id']} ({item.get('name')}) no longer exists",
                )
            version = item.get("version") if asset["type"] == "recipe" else None
            body = model.body_at_version(asset, version if isinstance(version, int) else None)
            if body is None:
                return None, f"Version {version} of {asset['name']} not found"
            picks.append((asset, body, item.get("zip_name")))
    blob = build_zip(model.package_entries(ws, picks, root))
    if len(blob) > MAX_PACKAGE_BYTES:
        return None, "Package exceeds the 100 MB limit"
    return blob, None


# -- imports -------------------------------------------------------------------------
def import_create(call: Call) -> Reply:
    query = call.request.query
    status = 422 if call.embedded else 400
    raw_folder = call.route.args[0] if call.route.args else query.get("folder_id")
    if not raw_folder:
        raise invalid(status, "folder_id", "is required")
    folder_id = _int(raw_folder, "folder_id", status)
    _folder(call, folder_id)
    home = query.get("folder_id_for_home_assets") or None
    home_id = _int(home, "folder_id_for_home_assets", status) if home else None
    if home_id is not None:
        _folder(call, home_id)
    body = call.request.body
    if len(body) > MAX_PACKAGE_BYTES:
        raise ApiError(
            422, {"message": "Package is too large", "errors": {"file": ["must be at most 100 MB"]}}
        )
    try:
        entries = read_zip(body)
    except BadPackage as exc:
        raise ApiError(400, {"error": str(exc)}) from None
    if (
        call.ws.get("home_assets_project")
        and home_id is None
        and any(e.body.get("root_folder") for e in entries)
    ):
        raise invalid(
            422,
            "folder_id_for_home_assets",
            "is required: the package has root folder assets and Home assets is a project",
        )
    if "one_import" in call.engine.dialects() and call.engine.import_running(call.ws):
        raise ApiError(
            dialect.IMPORT_CONFLICT,
            {"message": "Another package import is in progress in this workspace"},
        )
    params = ImportParams(
        folder_id, _flag(query.get("restart_recipes")), _flag(query.get("include_tags")), home_id
    )
    job = call.engine.start_import(call, body, params)
    call.engine.store.save_workspace(call.ws)
    return json_reply(200, call.engine.job_json(call, job))


def run_import(engine: Jobs, ws: Json, job: Json) -> None:
    blob = engine.store.package(job["id"]) or b""
    params = ImportParams(**job["params"])
    new_id = lambda: engine.store.next_id("asset")  # noqa: E731
    outcome = apply_import(ws, read_zip(blob), params, new_id, job.get("forced"))
    job["status"] = outcome.status
    job["error"] = outcome.error
    job["recipe_status"] = outcome.recipe_status


# -- status and downloads ------------------------------------------------------------
def job_status(call: Call) -> Reply:
    job = call.ws["jobs"].get(call.route.args[0].strip())
    if job is None:
        raise not_found()
    call.engine.poll_job(call, job)
    call.engine.store.save_workspace(call.ws)
    return json_reply(200, call.engine.job_json(call, job))


def package_download(call: Call) -> Reply:
    job = call.ws["jobs"].get(call.route.args[0].strip())
    if job is None or job["kind"] != "export" or job["status"] != "completed":
        raise not_found()
    return Reply(302, b"", {"location": call.engine.download_url(call.request, job)})


def asset_download(call: Call) -> Reply:
    parts = call.route.args
    try:
        package_id = int(parts[0])
    except ValueError:
        raise not_found() from None
    blob = call.engine.store.package(package_id)
    key = parts[-1].removesuffix(".zip")
    if blob is None or not secrets.compare_digest(key, call.engine.package_key(package_id)):
        raise not_found()
    dialects = call.engine.dialects()
    kind = dialect.download_type(dialects)
    if "octet_stream" in dialects and not dialect.accepts(
        call.request.headers.get("accept", ""), kind
    ):
        return json_reply(406, {"message": f"Not acceptable: the package is {kind}"})
    return Reply(200, blob, {"content-type": kind})

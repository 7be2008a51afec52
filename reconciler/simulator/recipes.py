"""The Recipes API: a customer's recipes with their running state and job counts.

Embedded (oem-api/recipes, docs.workato.com/oem/oem-api/recipes.html):
    GET /api/managed_users/:id/recipes              list: folder_id, running, since_id,
                                                    page (from 1), per_page (default 10,
                                                    max 100); newest id first
    GET /api/managed_users/:id/recipes/:recipe_id   one recipe
    PUT /api/managed_users/:id/recipes/:recipe_id/start | /stop
Developer API (own workspace, docs.workato.com/workato-api/recipes.html):
    GET /api/recipes, GET /api/recipes/:id, PUT /api/recipes/:id/start | /stop

Quotas (SPEC.md): embedded list and get 2,000/minute, start and stop 1,000/minute; the
developer API's recipe calls 60/minute. A start that cannot happen answers 200 with
`success: false` and the reasons in `code_errors` or `config_errors`
(api-docs.workato.com/oem-api/resources/recipes/put-managed-users-managed-user-id-recipes-recipe-id-start),
here a connection the recipe uses that is missing or not authorized.

The list arrives wrapped in `result` (the embedded sample), in `items` (the developer
API's), or bare: the `recipes_shape` control picks one for both families, to prove a
client reads all three. This module is a leaf (the routes live in api.py): each function
answers `(status, payload)`.
"""

from __future__ import annotations

from typing import Any

from reconciler.simulator.model import now_iso

__all__ = [
    "SHAPES",
    "STOP_CAUSES",
    "add_jobs",
    "get_recipe",
    "list_recipes",
    "mark_running",
    "mark_stopped",
    "recipe_json",
    "start_recipe",
    "stop_recipe",
]

Json = dict[str, Any]
Answer = tuple[int, Any]
SHAPES = ("result", "items", "bare")
# the documented values of `stop_cause`
STOP_CAUSES = ("trigger_errors_limit", "action_quota_limit", "trial_expired", "txn_quota_limit")
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
_NOT_FOUND: Answer = (404, {"message": "Not found"})


def recipe_json(asset: Json) -> Json:
    """One recipe as the list and get answers show it."""
    return {
        "id": asset["id"],
        "name": asset["name"],
        "folder_id": asset["folder_id"],
        "running": bool(asset.get("running")),
        "version_no": asset.get("version"),
        "updated_at": asset.get("updated_at"),
        "job_succeeded_count": int(asset.get("job_succeeded_count", 0)),
        "job_failed_count": int(asset.get("job_failed_count", 0)),
        "last_run_at": asset.get("last_run_at"),
        "stopped_at": asset.get("stopped_at"),
        "stop_cause": asset.get("stop_cause"),
    }


def _int(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _BadQuery(name) from None


class _BadQuery(Exception):
    pass


def list_recipes(ws: Json, query: dict[str, str], shape: str) -> Answer:
    try:
        page = max(1, _int(query.get("page"), 1, "page"))
        per_page = _int(query.get("per_page"), DEFAULT_PER_PAGE, "per_page")
        per_page = min(MAX_PER_PAGE, max(1, per_page))
        folder = _int(query.get("folder_id"), -1, "folder_id")
        since = _int(query.get("since_id"), 0, "since_id")
    except _BadQuery as exc:
        return 400, {"message": "Bad request", "errors": {str(exc): ["must be an integer"]}}
    running = query.get("running")
    found = [
        a
        for a in ws["assets"].values()
        if a["type"] == "recipe"
        and (folder < 0 or a["folder_id"] == folder)  # that folder only, not its subfolders
        and (running is None or bool(a.get("running")) == (running.lower() == "true"))
        and (since <= 0 or a["id"] < since)
    ]
    found.sort(key=lambda a: -int(a["id"]))  # newest id first
    rows = [recipe_json(a) for a in found[(page - 1) * per_page : page * per_page]]
    if shape == "bare":
        return 200, rows
    return 200, {shape: rows}


def _recipe(ws: Json, recipe_id: str) -> Json | None:
    asset: Json | None = ws["assets"].get(recipe_id.strip())
    return asset if asset is not None and asset["type"] == "recipe" else None


def get_recipe(ws: Json, recipe_id: str) -> Answer:
    asset = _recipe(ws, recipe_id)
    return _NOT_FOUND if asset is None else (200, recipe_json(asset))


def _config_errors(ws: Json, asset: Json) -> list[Json]:
    """What keeps a recipe from starting: each connection it uses that is missing from the
    workspace or not authorized (a connection imported into a customer has no credentials
    until the customer connects it)."""
    errors: list[Json] = []
    for item in asset["body"].get("config", []):
        ref = item.get("account_id")
        name = ref.get("name") if isinstance(ref, dict) else None
        if not name:
            continue
        conn = next(
            (c for c in ws["assets"].values() if c["type"] == "connection" and c["name"] == name),
            None,
        )
        if conn is None:
            errors.append({"provider": item.get("provider"), "message": f"{name}: missing"})
        elif not conn.get("authorized", True):
            message = f"{name}: connection is not authorized"
            errors.append({"provider": item.get("provider"), "message": message})
    return errors


def start_recipe(ws: Json, recipe_id: str) -> Answer:
    asset = _recipe(ws, recipe_id)
    if asset is None:
        return _NOT_FOUND
    errors = _config_errors(ws, asset)
    if errors:
        return 200, {"success": False, "code_errors": [], "config_errors": errors}
    mark_running(asset)
    return 200, {"success": True}


def stop_recipe(ws: Json, recipe_id: str) -> Answer:
    asset = _recipe(ws, recipe_id)
    if asset is None:
        return _NOT_FOUND
    if asset.get("running"):
        mark_stopped(asset, None)
    return 200, {"success": True}


def mark_running(asset: Json) -> None:
    asset["running"] = True
    asset["stopped_at"] = None
    asset["stop_cause"] = None


def mark_stopped(asset: Json, cause: str | None) -> None:
    """Stopped by a user (cause None) or by Workato (one of STOP_CAUSES)."""
    if cause is not None and cause not in STOP_CAUSES:
        raise ValueError(f"unknown stop_cause {cause!r}; one of {', '.join(STOP_CAUSES)}")
    asset["running"] = False
    asset["stopped_at"] = now_iso()
    asset["stop_cause"] = cause


def add_jobs(asset: Json, *, failed: int = 0, succeeded: int = 0) -> None:
    if failed < 0 or succeeded < 0:
        raise ValueError("job counts only grow")
    asset["job_failed_count"] = int(asset.get("job_failed_count", 0)) + failed
    asset["job_succeeded_count"] = int(asset.get("job_succeeded_count", 0)) + succeeded
    if failed or succeeded:
        asset["last_run_at"] = now_iso()

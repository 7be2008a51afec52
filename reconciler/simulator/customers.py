"""Embedded customers: `GET /api/managed_users` and how a path names a workspace.

As Workato documents them (checked 2026-12):
- https://docs.workato.com/oem/oem-api/managed-users.html: `GET /api/managed_users`
  lists all customers; "All other Manage customers endpoints: 60 requests per minute"
  (its own quota, bucket `customers`). The page documents no search filters: rlcm
  filters by external id, name and plan itself. Pages are `page` (from 1) and `per_page`
  (default and maximum 100), as Workato's other Embedded lists (folders) page.
- https://docs.workato.com/oem/embedded-environments/embedded-environments-api.html: a
  customer with Environments provisioned has three workspaces, addressed as
  `/api/managed_users/:id_dev`, `:id_test` and `:id_prod`; listing customers returns
  an `environments` property with the TEST and PROD workspace ids. The original id
  becomes DEV there (and PROD on another page): the bare id's meaning is a switch here
  (`bare_environment`), the suffixed forms are the reliable ones.

A user entry in users.json: {id, external_id, name, plan_id, environments?: {test, prod}}.
"""

from __future__ import annotations

from typing import Any

from reconciler.simulator.calls import Call, invalid
from reconciler.simulator.messages import Reply, json_reply
from reconciler.simulator.store import workspace_key

__all__ = [
    "ENVIRONMENTS",
    "customer_json",
    "customers_list",
    "env_workspace_key",
    "find_user",
    "page_of",
    "resolve_key",
]

Json = dict[str, Any]
ENVIRONMENTS = ("dev", "test", "prod")
MAX_PER_PAGE = 100


def env_workspace_key(user_id: int, environment: str | None) -> str:
    """DEV is the customer's original workspace; TEST and PROD have files of their own."""
    base = workspace_key(user_id)
    return base if environment in (None, "dev") else f"{base}_{environment}"


def find_user(users: dict[str, Json], ref: str) -> Json | None:
    """Numeric id, or `E` + external id (free text), to a user entry."""
    text = ref.strip()
    if text.isdigit():
        return users.get(text)
    if text.startswith("E"):
        for user in users.values():
            if user.get("external_id") == text[1:]:
                return user
    return None


def resolve_key(
    users: dict[str, Json], ref: str | int, bare_environment: str = "dev"
) -> str | None:
    """The workspace a path's managed-user segment names, or None (a 404)."""
    text = str(ref).strip()
    user = find_user(users, text)
    environment: str | None = None
    if user is None:
        for env in ENVIRONMENTS:
            if text.endswith(f"_{env}"):
                user, environment = find_user(users, text[: -len(env) - 1]), env
                break
    if user is None:
        return _environment_id(users, text)
    provisioned = bool(user.get("environments"))
    if environment is not None and not provisioned:
        return None  # a suffix names an environment the customer does not have
    if environment is None and provisioned:
        environment = bare_environment
    return env_workspace_key(int(user["id"]), environment)


def _environment_id(users: dict[str, Json], text: str) -> str | None:
    """A TEST or PROD workspace's own numeric id also addresses it."""
    if not text.isdigit():
        return None
    for user in users.values():
        for env, workspace_id in (user.get("environments") or {}).items():
            if str(workspace_id) == text:
                return env_workspace_key(int(user["id"]), env)
    return None


def page_of(call: Call, items: list[Json]) -> list[Json]:
    """`page` (from 1) and `per_page` (default and maximum 100) of a list."""
    query = call.request.query
    try:
        page = int(query.get("page") or 1)
        per_page = min(int(query.get("per_page") or MAX_PER_PAGE), MAX_PER_PAGE)
    except ValueError:
        raise invalid(400, "page", "must be an integer") from None
    if page < 1 or per_page < 1:
        raise invalid(400, "page" if page < 1 else "per_page", "must be positive")
    start = (page - 1) * per_page
    return items[start : start + per_page]


def customer_json(user: Json) -> Json:
    out: Json = {
        "id": user["id"],
        "external_id": user.get("external_id"),
        "name": user.get("name"),
        "plan_id": user.get("plan_id", "oem_plan"),
        "trial": False,
        "created_at": user.get("created_at", "2026-01-05T09:00:00.000Z"),
        "updated_at": user.get("updated_at", "2026-01-05T09:00:00.000Z"),
    }
    environments = user.get("environments")
    if environments:
        out["environments"] = [
            {"id": environments[env], "environment_type": env} for env in ("test", "prod")
        ]
    return out


def customers_list(call: Call) -> Reply:
    users = call.engine.store.read("users.json", {"users": {}})["users"]
    ordered = sorted(users.values(), key=lambda u: int(u["id"]))
    return json_reply(200, {"result": [customer_json(u) for u in page_of(call, ordered)]})

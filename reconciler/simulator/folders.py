"""Embedded folders: `GET|POST /api/managed_users/:id/folders`.

As https://docs.workato.com/oem/oem-api/folders.html documents them (checked 2026-12):
the list takes `parent_id` (default: the Home folder, i.e. top-level folders), `page`
(default 1) and `per_page` (default 100, maximum 100) and answers
`{"result": [{id, name, parent_id, created_at, updated_at}]}`; create takes
`{"name", "parent_id"}` (no parent: a top-level folder). Folder endpoints have a quota
of their own (bucket `folders`, 60 requests per minute assumed until the page's figure
is confirmed; configurable on both sides).
"""

from __future__ import annotations

from typing import Any

from reconciler.simulator import model
from reconciler.simulator.calls import Call, invalid, not_found
from reconciler.simulator.customers import page_of
from reconciler.simulator.messages import Reply, json_reply

__all__ = ["folder_create", "folder_json", "folders_list"]

Json = dict[str, Any]
_STAMP = "2026-01-05T09:00:00.000Z"


def folder_json(folder: Json) -> Json:
    return {
        "id": folder["id"],
        "name": folder["name"],
        "parent_id": folder.get("parent_id"),
        "created_at": folder.get("created_at", _STAMP),
        "updated_at": folder.get("updated_at", folder.get("created_at", _STAMP)),
    }


def _parent(call: Call, raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        parent = int(raw)
    except (TypeError, ValueError):
        raise invalid(400, "parent_id", "must be an integer") from None
    if str(parent) not in call.ws["folders"]:
        raise not_found()
    return parent


def folders_list(call: Call) -> Reply:
    parent = _parent(call, call.request.query.get("parent_id"))
    children = sorted(
        (f for f in call.ws["folders"].values() if f.get("parent_id") == parent),
        key=lambda f: int(f["id"]),
    )
    return json_reply(200, {"result": [folder_json(f) for f in page_of(call, children)]})


def folder_create(call: Call) -> Reply:
    body = call.json_body()
    payload = body.get("folder", body)
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise invalid(422, "name", "can't be blank")
    parent = _parent(call, payload.get("parent_id"))
    folder = model.add_folder(call.ws, call.engine.store.next_id("folder"), name.strip(), parent)
    folder["created_at"] = folder["updated_at"] = model.now_iso()
    call.engine.store.save_workspace(call.ws)
    return json_reply(200, {"result": folder_json(folder)})

"""The Folders API: the folders of a customer workspace (or of the own workspace).

Embedded (oem-api/folders, docs.workato.com/oem/oem-api/folders.html):
    GET /api/managed_users/:id/folders   parent_id (default: the Home folder's children),
                                         page (from 1), per_page (default 100, max 100)
Developer API (own workspace): GET /api/folders with the same parameters.

Answers `{"result": [{id, name, parent_id, created_at, updated_at}]}`. A `parent_id` the
workspace does not have answers 404, which is how rlcm asks whether a target folder
exists (one read, outside the scarce RLCM quota). Workato does not publish this family's
quota on the page rlcm cites; the simulator counts it in its own bucket of 60/minute,
as Workato's other management endpoints. A leaf module: the route lives in api.py.
"""

from __future__ import annotations

from typing import Any

__all__ = ["list_folders"]

Json = dict[str, Any]
Answer = tuple[int, Any]
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 100


def list_folders(ws: Json, query: dict[str, str]) -> Answer:
    try:
        page = max(1, int(query.get("page") or 1))
        per_page = min(MAX_PER_PAGE, max(1, int(query.get("per_page") or DEFAULT_PER_PAGE)))
        raw_parent = query.get("parent_id") or None
        parent = int(raw_parent) if raw_parent is not None else None
    except ValueError:
        return 400, {"message": "Bad request", "errors": {"parent_id": ["must be an integer"]}}
    folders: dict[str, Json] = ws["folders"]
    if parent is not None and str(parent) not in folders:
        return 404, {"message": "Folder not found"}
    found = [
        {
            "id": int(key),
            "name": folder["name"],
            "parent_id": folder.get("parent_id"),
            "created_at": folder.get("created_at"),
            "updated_at": folder.get("updated_at"),
        }
        for key, folder in folders.items()
        if folder.get("parent_id") == parent
    ]
    found.sort(key=lambda f: int(f["id"]))
    return 200, {"result": found[(page - 1) * per_page : page * per_page]}

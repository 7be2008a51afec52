"""Dialect switches: the forms in which Workato's sources disagree with the documents.

The three documents are the simulator's default. Workato's newer pages and its OpenAPI
description say more, and sometimes the opposite (SPEC, "Where Workato's sources
disagree"); each switch below makes the simulator answer in one of those forms, so a
test can prove that rlcm works whichever is true. Switches are kept in controls.json
(`dialect`: a list of names), set by `Simulator.set_dialect`, the admin action
`set_dialect` and `rlcm sim serve --dialect NAME`.

- `processing`: running jobs say `processing`, a value of the OpenAPI status enum of
  exports and imports (Workato's own CLI polls through it), instead of `in_progress`.
- `unknown_status`: running jobs say `queued`, a status in no source at all.
- `recipe_ids_missing`: `recipe_status` entries come without `id`, or with `id: null`
  (alternately): the OpenAPI makes the id optional.
- `octet_stream`: package downloads answer `application/octet-stream` (the developer
  API's download is described so) rather than `application/zip`.
- `folder_asset_status`: folder_assets entries carry a `status` (`added`, `updated`,
  `no change`) and fields no document names (`uuid`, `dependency_count`).
- `one_import`: "You can import one package at a time" (the import guide): a second
  import into a workspace while one is still running is refused. No page gives the
  answer's status; the simulator answers 409 Conflict (nothing was done, like a 429).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DIALECTS",
    "IMPORT_CONFLICT",
    "accepts",
    "check_dialects",
    "download_type",
    "folder_asset_fields",
    "recipe_statuses",
    "running_status",
]

Json = dict[str, Any]

DIALECTS: dict[str, str] = {
    "processing": "running jobs answer status processing (OpenAPI enum) instead of in_progress",
    "unknown_status": "running jobs answer status queued, a value rlcm does not know",
    "recipe_ids_missing": "recipe_status entries without id, or with id null",
    "octet_stream": "package downloads answer application/octet-stream",
    "folder_asset_status": "folder_assets entries carry status and fields rlcm does not use",
    "one_import": "a second import into a workspace while one runs is refused (409)",
}
IMPORT_CONFLICT = 409
_ASSET_STATUSES = ("added", "updated", "no change")


def check_dialects(names: list[str]) -> list[str]:
    """The names, each known (ValueError naming the first unknown one and the choices)."""
    for name in names:
        if name not in DIALECTS:
            raise ValueError(f"unknown dialect {name!r}; one of {', '.join(DIALECTS)}")
    return sorted(set(names))


def running_status(dialects: list[str]) -> str:
    """What a job that is still running says it is."""
    if "unknown_status" in dialects:
        return "queued"
    if "processing" in dialects:
        return "processing"
    return "in_progress"


def recipe_statuses(dialects: list[str], statuses: list[Json]) -> list[Json]:
    """`recipe_status` as answered: without ids (absent, then null, alternately) or as is."""
    if "recipe_ids_missing" not in dialects:
        return statuses
    out: list[Json] = []
    for index, entry in enumerate(statuses):
        rest = {k: v for k, v in entry.items() if k != "id"}
        out.append(rest if index % 2 == 0 else {"id": None, **rest})
    return out


def download_type(dialects: list[str]) -> str:
    return "application/octet-stream" if "octet_stream" in dialects else "application/zip"


def folder_asset_fields(dialects: list[str], entry: Json) -> Json:
    """One folder_assets entry with the fields this dialect adds."""
    if "folder_asset_status" not in dialects:
        return entry
    asset_id = int(entry["id"])
    return {
        **entry,
        "status": _ASSET_STATUSES[asset_id % len(_ASSET_STATUSES)],
        "uuid": f"00000000-0000-4000-8000-{asset_id:012d}",
        "dependency_count": 0,
    }


def accepts(accept: str, content_type: str) -> bool:
    """Whether an Accept header allows `content_type` (no header, or */*, allows all)."""
    if not accept.strip():
        return True
    major = content_type.split("/", 1)[0]
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        if "q=0" in params.replace(" ", "") and not params.replace(" ", "").startswith("q=0."):
            continue  # q=0: explicitly refused
        if media.strip().lower() in (content_type, f"{major}/*", "*/*"):
            return True
    return False

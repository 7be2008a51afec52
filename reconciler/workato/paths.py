"""URL paths of Workato's RLCM endpoints.

`owner` is a managed-user id (numeric, or `E` + external id) for the embedded family,
or None for the workspace's own environment (developer API, no managed-user prefix).
The managed-user id is URL-encoded as a whole segment (`/` and `%` included).
"""

from __future__ import annotations

from urllib.parse import quote

from reconciler.facts import DATA_CENTERS

__all__ = [
    "CUSTOMERS",
    "DATA_CENTER_URLS",
    "export_status",
    "folder_assets",
    "folders",
    "import_start",
    "import_status",
    "manifest",
    "manifests",
    "package_download",
    "recipe",
    "recipe_action",
    "recipes",
    "start_export",
]

DATA_CENTER_URLS = DATA_CENTERS


def _prefix(owner: str) -> str:
    return f"/api/managed_users/{quote(owner, safe='')}"


CUSTOMERS = "/api/managed_users"  # the partner's customers (Embedded only)


def folders(owner: str) -> str:
    """A customer workspace's folders (Embedded only; `owner` may carry `_test`...)."""
    return f"{_prefix(owner)}/folders"


def folder_assets(owner: str | None) -> str:
    if owner is None:
        return "/api/export_manifests/folder_assets"
    return f"{_prefix(owner)}/export_manifests/folder_assets"


def manifests(owner: str | None) -> str:
    if owner is None:
        return "/api/export_manifests"
    return f"{_prefix(owner)}/export_manifests"


def manifest(owner: str | None, manifest_id: int) -> str:
    return f"{manifests(owner)}/{int(manifest_id)}"


def start_export(owner: str | None, manifest_id: int) -> str:
    if owner is None:
        return f"/api/packages/export/{int(manifest_id)}"
    return f"{_prefix(owner)}/exports/{int(manifest_id)}"


def export_status(owner: str | None, package_id: int) -> str:
    if owner is None:
        return f"/api/packages/{int(package_id)}"
    return f"{_prefix(owner)}/exports/{int(package_id)}"


def import_start(owner: str | None, folder_id: int) -> str:
    """Embedded imports name the folder in the query; the developer API in the path."""
    if owner is None:
        return f"/api/packages/import/{int(folder_id)}"
    return f"{_prefix(owner)}/imports"


def import_status(owner: str | None, import_id: int) -> str:
    if owner is None:
        return f"/api/packages/{int(import_id)}"
    return f"{_prefix(owner)}/imports/{int(import_id)}"


def package_download(package_id: int) -> str:
    """Developer API only; embedded exports carry a `download_url` instead."""
    return f"/api/packages/{int(package_id)}/download"


def recipes(owner: str | None) -> str:
    """The Recipes API: embedded per customer, or the developer API's own recipes."""
    if owner is None:
        return "/api/recipes"
    return f"{_prefix(owner)}/recipes"


def recipe(owner: str | None, recipe_id: int) -> str:
    return f"{recipes(owner)}/{int(recipe_id)}"


def recipe_action(owner: str | None, recipe_id: int, action: str) -> str:
    """PUT .../recipes/:id/start or /stop."""
    if action not in ("start", "stop"):
        raise ValueError(f"unknown recipe action {action!r}")
    return f"{recipe(owner, recipe_id)}/{action}"

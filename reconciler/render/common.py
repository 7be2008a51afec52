"""What the plan renderers share: symbols, grouping by action, detail lines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.plan import Change, Plan

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "NOT_REFRESHED",
    "detail_line",
    "groups",
    "md_cell",
    "show_value",
    "symbol",
]

GITHUB_COMMENT_LIMIT = 65_536
NOT_REFRESHED = (
    "Target folders were not refreshed (--no-refresh-targets): "
    "drift in target folders is not shown."
)

_SYMBOLS = {
    "create": "+",
    "update": "~",
    "recreate": "±",
    "delete": "-",
    "forget": "-",
    "export": "+",
    "import": "~",
    "start": "+",
    "stop": "-",
}
_TITLES = {
    "create": "Manifests to create",
    "update": "Manifests to update",
    "recreate": "Manifests to recreate (archived or gone in Workato)",
    "delete": "Manifests to delete",
    "forget": "State records to forget",
    "export": "Exports",
    "start": "Recipes to start",
    "stop": "Recipes to stop",
}


def symbol(change: Change) -> str:
    if change.action == "import" and change.data.get("first_import"):
        return "+"
    return _SYMBOLS[change.action]


def groups(plan: Plan) -> list[tuple[str, list[Change]]]:
    """Changes grouped by action in a fixed order; imports one group per wave."""
    found: dict[str, list[Change]] = {}
    for change in plan.changes:
        if change.action == "import":
            key = f"Imports, wave {change.wave}"
        elif change.kind == "import" or change.action == "forget":
            key = _TITLES["forget"]
        else:
            key = _TITLES[change.action]
        found.setdefault(key, []).append(change)
    order = [_TITLES[a] for a in ("create", "update", "recreate", "delete", "export")]
    waves = [f"Imports, wave {w}" for w in plan.waves]
    rest = sorted(k for k in found if k not in order and k not in waves and k != _TITLES["forget"])
    keys = [*order, *waves, *rest, _TITLES["forget"]]
    return [(k, found[k]) for k in keys if k in found]


def show_value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def detail_line(detail: Mapping[str, Any]) -> str:
    """`~ assets[recipe:Sync accounts].version: 3 -> 5`, `+ assets[recipe:X]`, ..."""
    change = detail.get("change", "changed")
    path = str(detail.get("path", ""))
    live = " (live)" if detail.get("source") == "live" else ""
    if change == "added":
        return f"+ {path}{live}"
    if change == "removed":
        return f"- {path}{live}"
    before, after = show_value(detail.get("before")), show_value(detail.get("after"))
    return f"~ {path}: {before} -> {after}{live}"


def md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")

"""A content diff of two package zips, in the terms of recipes.

`diff_packages(old, new)` says what a reviewer wants to know: recipe "Sync accounts":
step 4 action salesforce/search_records: input.sobject changed "Account" -> "Contact";
step 6 added; config salesforce: connection changed. deepdiff finds the differences;
the result is plain data, so renderers never import deepdiff. Import this module only
when a content diff is asked for: deepdiff is heavy.

Recipe steps are matched by `uuid` when they carry one (so an inserted step reads as one
step added, not as every later step changed), else by step number.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from reconciler.errors import PackageError

__all__ = ["ContentChange", "diff_packages", "diff_recipe"]

_IGNORED_RECIPE_FIELDS = frozenset({"version", "code", "config"})  # version moves on every save


@dataclass(frozen=True, slots=True)
class ContentChange:
    """One difference between two packages.

    - `asset`: `recipe Sync accounts`, `connection Salesforce`, ...
    - `file`: the zip entry.
    - `change`: `added` | `removed` | `changed`.
    - `where`: what changed inside the asset: `step 3 action salesforce/search_records:
      input.sobject`, `config salesforce: account_id`, `description`; "" for the whole asset.
    """

    asset: str
    file: str
    change: str
    where: str = ""
    before: Any = None
    after: Any = None

    @property
    def sentence(self) -> str:
        where = f"{self.where} " if self.where else ""
        if self.change == "changed" and (self.before is not None or self.after is not None):
            return f"{self.asset}: {where}changed {_show(self.before)} -> {_show(self.after)}"
        return f"{self.asset}: {where}{self.change}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "file": self.file,
            "change": self.change,
            "where": self.where,
            "before": self.before,
            "after": self.after,
            "sentence": self.sentence,
        }


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def diff_packages(old_zip: bytes, new_zip: bytes) -> list[ContentChange]:
    """Every difference between two package zips, file by file, in zip-path order."""
    old, new = _entries(old_zip, "old"), _entries(new_zip, "new")
    changes: list[ContentChange] = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            changes.append(ContentChange(_label(path, old[path]), path, "removed"))
        elif path not in old:
            changes.append(ContentChange(_label(path, new[path]), path, "added"))
        elif old[path] != new[path]:
            changes += _diff_file(path, old[path], new[path])
    return changes


def _entries(data: bytes, which: str) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"the {which} package is not a readable zip: {exc}") from None


def _asset_type(path: str) -> str:
    parts = path.rsplit("/", 1)[-1].split(".")
    return parts[-2] if len(parts) >= 3 else "file"


def _load(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _label(path: str, raw: bytes) -> str:
    doc = _load(raw) if path.endswith(".json") else None
    name = doc.get("name") if isinstance(doc, dict) else None
    stem = path.rsplit("/", 1)[-1].split(".", maxsplit=1)[0]
    return f"{_asset_type(path)} {name or stem}"


def _diff_file(path: str, old_raw: bytes, new_raw: bytes) -> list[ContentChange]:
    label = _label(path, new_raw)
    old, new = _load(old_raw), _load(new_raw)
    if old is None or new is None or not path.endswith(".json"):
        return [ContentChange(label, path, "changed", "content (not JSON)")]
    if _asset_type(path) == "recipe" and isinstance(old, dict) and isinstance(new, dict):
        return [ContentChange(label, path, c, w, b, a) for c, w, b, a in diff_recipe(old, new)]
    return [ContentChange(label, path, c, w, b, a) for c, w, b, a in _deep(old, new, "")]


Row = tuple[str, str, Any, Any]  # change, where, before, after


def diff_recipe(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Row]:
    """Differences of two recipe JSON documents: fields, steps, then connections."""
    rows: list[Row] = []
    for key in sorted((old.keys() | new.keys()) - _IGNORED_RECIPE_FIELDS):
        rows += _deep(old.get(key), new.get(key), key)
    rows += _diff_steps(_steps(old.get("code")), _steps(new.get("code")))
    rows += _diff_config(old.get("config") or [], new.get("config") or [])
    return rows


def _steps(code: Any) -> dict[str, dict[str, Any]]:
    """Flatten a step tree to step key -> step (without its nested block)."""
    found: dict[str, dict[str, Any]] = {}
    for step in _walk(code):
        key = str(step.get("uuid") or f"#{step.get('number')}")
        found[key] = {k: v for k, v in step.items() if k != "block"}
    return found


def _walk(step: Any) -> Iterator[dict[str, Any]]:
    if isinstance(step, dict):
        yield step
        for child in step.get("block") or []:
            yield from _walk(child)


def _step_label(step: Mapping[str, Any]) -> str:
    """`step 2 action salesforce/search_records`. A recipe's JSON numbers the trigger 0;
    Workato's recipe editor shows it as step 1, so one is added to read as the editor does."""
    what = "/".join(str(step[k]) for k in ("provider", "name") if step.get(k))
    number = step.get("number")
    shown = f"step {number + 1}" if isinstance(number, int) else f"step {number}"
    return " ".join(p for p in (shown, str(step.get("keyword", "")), what) if p)


def _diff_steps(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[Row]:
    rows: list[Row] = []
    order = sorted(old.keys() | new.keys(), key=lambda k: _number(new.get(k) or old[k]))
    for key in order:
        if key not in new:
            rows.append(("removed", _step_label(old[key]), None, None))
        elif key not in old:
            rows.append(("added", _step_label(new[key]), None, None))
        else:
            label = _step_label(new[key])
            rows += [(c, f"{label}: {w}", b, a) for c, w, b, a in _deep(old[key], new[key], "")]
    return rows


def _number(step: Mapping[str, Any]) -> tuple[int, str]:
    number = step.get("number")
    return (number if isinstance(number, int) else 1 << 30, str(step.get("uuid", "")))


def _diff_config(old: list[Any], new: list[Any]) -> list[Row]:
    def by_provider(items: list[Any]) -> dict[str, Any]:
        return {str(i.get("provider")): i for i in items if isinstance(i, dict)}

    before, after = by_provider(old), by_provider(new)
    rows: list[Row] = []
    for provider in sorted(before.keys() | after.keys()):
        where = f"config {provider}"
        if provider not in after:
            rows.append(("removed", where, None, None))
        elif provider not in before:
            rows.append(("added", where, None, None))
        else:
            for c, w, b, a in _deep(before[provider], after[provider], ""):
                connection = w.startswith("account_id")
                rows.append((c, f"{where}: {'connection' if connection else w}", b, a))
    return rows


def _deep(old: Any, new: Any, prefix: str) -> list[Row]:
    """deepdiff of two JSON values as rows with dotted paths under `prefix`."""
    rows: list[Row] = []
    tree = DeepDiff(old, new, view="tree")
    for report, levels in tree.items():
        change = _KIND.get(report.rsplit("_", 1)[-1], "changed")
        for level in levels:
            path = _dotted(prefix, level.path(output_format="list"))
            before = None if change == "added" else _plain(level.t1)
            after = None if change == "removed" else _plain(level.t2)
            rows.append((change, path, before, after))
    return sorted(rows, key=lambda r: (r[1], r[0]))


_KIND = {"added": "added", "removed": "removed", "changed": "changed", "changes": "changed"}


def _dotted(prefix: str, path: list[Any]) -> str:
    text = prefix
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _plain(value: Any) -> Any:
    """deepdiff's placeholders (not present) become None; JSON values stay as they are."""
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return None

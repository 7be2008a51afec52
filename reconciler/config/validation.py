"""Check each loaded document against its kind's model; turn pydantic errors into
`ConfigError`s that name file:line:col and speak YAML (keys, lists), not Python."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from reconciler.config.kinds import (
    ENV_PATTERN,
    KIND_MODELS,
    PATTERN_HINTS,
    UNION_TAGS,
    WAVE_TAGS,
    ConfigModel,
)
from reconciler.config.loader import Document, YamlMap, YamlSeq, quote
from reconciler.errors import ConfigError, Location

__all__ = ["Parsed", "did_you_mean", "document_label", "locate", "validate_document"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Parsed:
    """A document that matched its kind's model, with a way back to positions."""

    doc: Document
    model: ConfigModel
    label: str  # how messages name it: manifest "crm-sync", source, ...

    @property
    def data(self) -> YamlMap:
        assert isinstance(self.doc.data, YamlMap)
        return self.doc.data

    def at(self, *path: str | int) -> Location:
        """Where the value at `path` is written (or the nearest mapping/list above it)."""
        return locate(self.data, path)

    def key_at(self, *path: str | int) -> Location:
        """Where the key at the end of `path` is written."""
        return locate(self.data, path, key=True)

    def has(self, *path: str | int) -> bool:
        node: Any = self.data
        for part in path:
            if not _contains(node, part):
                return False
            node = node[part]
        return True

    def error(self, message: str, location: Location) -> ConfigError:
        return ConfigError(f"{self.label}: {message}", location)


def _contains(node: Any, part: str | int) -> bool:
    if isinstance(node, YamlMap):
        return isinstance(part, str) and part in node
    return isinstance(node, YamlSeq) and isinstance(part, int) and 0 <= part < len(node)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """` (did you mean "x"?)` when a close match exists, else ``."""
    lowered = {choice.lower(): choice for choice in choices}
    if word.lower() in lowered:
        return f' (did you mean "{lowered[word.lower()]}"?)'
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:  # "crm-sync" for "crm": a prefix is a likely slip too
        close = [c for c in choices if len(c) >= 3 and (word.startswith(c) or c.startswith(word))]
    return f' (did you mean "{close[0]}"?)' if close else ""


def locate(data: Any, path: Sequence[str | int], *, key: bool = False) -> Location:
    node = data
    location: Location = data.location
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(node, YamlMap) and isinstance(part, str) and part in node:
            location = node.key_locations[part] if (last and key) else node.value_locations[part]
            node = node[part]
        elif isinstance(node, YamlSeq) and isinstance(part, int) and 0 <= part < len(node):
            location = node.item_locations[part]
            node = node[part]
        else:
            break
    return location


def document_label(data: YamlMap, kind: str) -> str:
    """`manifest "crm-sync"`, `target "E-acme-001/1827"`, `source`, ..."""
    lower = kind.lower()
    name = data.get("name")
    if isinstance(name, str) and name:
        return f"{lower} {quote(name)}"
    if kind == "Target":
        customer = data.get("customer")
        folder = data.get("folder_id")
        if isinstance(folder, int) and not isinstance(folder, bool):
            owner = "self" if customer is None else str(customer)
            return f"{lower} {quote(f'{owner}/{folder}')}"
    return lower


def validate_document(doc: Document) -> tuple[Parsed | None, list[ConfigError]]:
    """The document as its kind's model, or the errors that prevent it."""
    data = doc.data
    if not isinstance(data, YamlMap):
        got = _describe(data)
        message = f"a config document must be a mapping with a kind, got {got}"
        return None, [ConfigError(message, doc.location)]
    kind = data.get("kind")
    if "kind" not in data:
        kinds = ", ".join(KIND_MODELS)
        return None, [ConfigError(f'missing required key "kind" (one of {kinds})', doc.location)]
    if not isinstance(kind, str) or kind not in KIND_MODELS:
        shown = kind if isinstance(kind, str) else _describe(kind)
        message = f"unknown kind {quote(str(shown))}" + did_you_mean(str(shown), list(KIND_MODELS))
        if not did_you_mean(str(shown), list(KIND_MODELS)):
            message += f" (expected one of {', '.join(KIND_MODELS)})"
        return None, [ConfigError(message, locate(data, ("kind",)))]
    model_cls = KIND_MODELS[kind]
    label = document_label(data, kind)
    try:
        model = model_cls.model_validate(data)
    except PydanticValidationError as exc:
        errors = [_convert(error, data, model_cls, label) for error in exc.errors()]
        return None, errors
    return Parsed(doc, model, label), []


def _convert(error: Any, data: YamlMap, model_cls: type[BaseModel], label: str) -> ConfigError:
    loc: Path = tuple(
        part
        for part in error["loc"]
        if isinstance(part, str | int) and part not in WAVE_TAGS and part not in UNION_TAGS
    )
    kind = error["type"]
    where = _format_path(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _fields_at(model_cls, loc[:-1])
        prefix = f"{_format_path(loc[:-1])}: " if len(loc) > 1 else ""
        message = f"{prefix}unknown key {quote(key)}" + did_you_mean(key, allowed)
        return ConfigError(f"{label}: {message}", locate(data, loc, key=True))
    if kind == "missing":
        prefix = f"{_format_path(loc[:-1])}: " if len(loc) > 1 else ""
        message = f'{prefix}missing required key "{loc[-1]}"'
        return ConfigError(f"{label}: {message}", locate(data, loc[:-1]))
    message = _explain(error)
    text = f"{where}: {message}" if where else message
    return ConfigError(f"{label}: {text}", locate(data, loc))


def _explain(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    got = f", got {_describe(value)}"
    simple = {
        "string_type": "expected a string",
        "int_type": "expected a whole number",
        "int_from_float": "expected a whole number",
        "float_type": "expected a number",
        "bool_type": "expected true or false",
        "model_type": "expected a mapping",
        "model_attributes_type": "expected a mapping",
        "dict_type": "expected a mapping",
        "list_type": "expected a list",
    }
    if kind in simple:
        return simple[kind] + got
    if kind == "greater_than_equal":
        return f"must be at least {_number(ctx.get('ge'))}{got}"
    if kind == "greater_than":
        return f"must be greater than {_number(ctx.get('gt'))}{got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return "must not be empty"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", '"')
        hint = did_you_mean(value, _literal_choices(expected)) if isinstance(value, str) else ""
        return f"must be {expected}{got}{hint}"
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(str(ctx.get("pattern")), f"text matching {ctx.get('pattern')}")
        if ctx.get("pattern") == ENV_PATTERN:
            got = " (the value is not shown: it may be a pasted secret)"
        return f"expected {hint}{got}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _literal_choices(expected: str) -> list[str]:
    return [part.strip(' "') for part in expected.replace(" or ", ",").split(",") if part.strip()]


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return quote(value, 40)
    return str(value)


def _format_path(loc: Path) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _fields_at(model_cls: type[BaseModel], loc: Path) -> list[str]:
    """The keys allowed in the mapping at `loc` (for "did you mean")."""
    current: Any = model_cls
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The model class inside `X | None`, `list[X]`, `Annotated[...]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None

"""Turning a State into the bytes of the state file, fast enough to write after every step.

The file is `json.dumps(state, sort_keys=True, indent=2)` plus a newline, so `git diff`
of it reads well. Doing exactly that for a fleet-sized state (3,000 import records) takes
~230 ms, and the applier writes after every finished step. So each record's text is cached
and only records that changed are encoded again; the top level is assembled by hand in the
same layout. A record counts as changed when it is another object, or when any of its fields
(or any item of a list field) is another object than when it was cached: assigning a field,
replacing a record or appending to its lists is seen. Changing an attribute of a nested item
in place (`record.recipe_results[0].import_result = ...`) is not: assign a new item instead.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from reconciler.state.model import State

__all__ = ["StateEncoder", "encode_state"]

_SECTIONS = ("baselines", "imports", "manifests", "packages", "pending")  # dicts, sorted
# dict-valued fields added later: written only when not empty, so a state that does not
# use them stays byte-identical (and readable by an older rlcm)
_OPTIONAL_SECTIONS = ("pending_imports", "quotas", "targets", "waves")
_RECORD_INDENT = " " * 4  # records sit two levels deep: top level, then their section


def encode_state(state: State) -> bytes:
    """The reference encoding, without a cache (what StateEncoder must reproduce)."""
    data = state.model_dump(mode="json")
    for section in (*_OPTIONAL_SECTIONS, "unadopted"):
        if not data[section]:
            del data[section]
    if data["source"] is None:
        del data["source"]
    return (json.dumps(data, sort_keys=True, indent=2) + "\n").encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2)


_LIST_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {}


def _list_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    names = _LIST_FIELDS.get(cls)
    if names is None:
        names = tuple(n for n, f in cls.model_fields.items() if "list[" in str(f.annotation))
        _LIST_FIELDS[cls] = names
    return names


def _signature(record: BaseModel) -> tuple[Any, ...]:
    """What a record is made of: its field values, and the items of its list fields.

    The cache keeps these objects alive, and tuples compare items by identity first (then by
    value), so comparing two signatures is cheap and never fooled by a reused id.
    """
    values = record.__dict__
    items = tuple(tuple(values[n] or ()) for n in _list_fields(type(record)))
    return (tuple(values.values()), items)


class StateEncoder:
    """Encodes states of one store, re-encoding only the records that changed."""

    def __init__(self) -> None:
        # section -> key -> (record, its signature, its line in the file)
        self._cache: dict[str, dict[str, tuple[BaseModel, tuple[Any, ...], bytes]]] = {}

    def encode(self, state: State) -> bytes:
        fields: dict[str, bytes] = {
            "format_version": _dumps(state.format_version).encode(),
            "lineage": _dumps(state.lineage).encode(),
            "serial": _dumps(state.serial).encode(),
        }
        if state.unadopted:  # small and rarely written (rlcm adopt): encoded whole, nested
            fields["unadopted"] = _dumps(state.unadopted).replace("\n", "\n  ").encode()
        for section in _SECTIONS:
            fields[section] = self._section(section, getattr(state, section))
        for section in _OPTIONAL_SECTIONS:
            if getattr(state, section):
                fields[section] = self._section(section, getattr(state, section))
        if state.source is not None:
            fields["source"] = _dumps(state.source).encode()
        body = b",\n".join(b'  "%s": %s' % (name.encode(), fields[name]) for name in sorted(fields))
        return b"{\n" + body + b"\n}\n"

    def _section(self, section: str, records: dict[str, BaseModel]) -> bytes:
        old = self._cache.get(section, {})
        new: dict[str, tuple[BaseModel, tuple[Any, ...], bytes]] = {}
        lines = []
        for key in sorted(records):
            record = records[key]
            signature = _signature(record)
            entry = old.get(key)
            if entry is None or entry[0] is not record or entry[1] != signature:
                entry = (record, signature, _line(key, record))
            new[key] = entry
            lines.append(entry[2])
        self._cache[section] = new  # records no longer in the state drop out here
        return b"{\n" + b",\n".join(lines) + b"\n  }" if lines else b"{}"


def _line(key: str, record: BaseModel) -> bytes:
    """One record's lines (ASCII: json.dumps escapes everything else)."""
    text = _dumps(record.model_dump(mode="json")).replace("\n", "\n" + _RECORD_INDENT)
    return f"{_RECORD_INDENT}{_dumps(key)}: {text}".encode()

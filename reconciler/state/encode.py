"""Turning a State into the bytes of the state file, fast enough to write after every step.

The file is `json.dumps(state, sort_keys=True, indent=2)` plus a newline, so `git diff`
of it reads well. Doing exactly that for a fleet-sized state (3,000 import records) takes
~230 ms, and the applier writes after every finished step. So each record's text is cached
and only records that changed are encoded again; the top level is assembled by hand in the
same layout. A record counts as changed when it is another object, or when any of its fields
(or any item of a list field) is another object than when it was cached: assigning a field,
replacing a record or appending to its lists is seen. Changing an attribute of a nested item
in place (`record.recipe_results[0].import_result = ...`) is not: assign a new item instead.

Even that scan is O(records) per write: ~45 ms for a 1,000-target state, written a few
times a second while an apply starts imports. A writer that knows which records it put or
removed (the applier's Recorder: it replaces records whole and says which) passes them as
`changed`, section -> keys; the sections it does not name are taken from the cache as they
are, and a write costs what the named records and the file's bytes cost. A section whose
length no longer matches its cache (a record added or removed behind the writer's back) is
scanned whole all the same. With RLCM_STATE_SELFCHECK set (the test suite sets it), every
such write is compared with the reference encoding.
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel

from reconciler.state.model import State

__all__ = ["Changes", "StateEncoder", "encode_state"]

# section -> keys of the records put or removed since the last write (see the docstring)
Changes = Mapping[str, Collection[str]]
_SELFCHECK = "RLCM_STATE_SELFCHECK"

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
        self._order: dict[str, list[str]] = {}  # section -> its cached keys, sorted
        self._bytes: dict[str, bytes] = {}  # section -> its encoding as last written

    def encode(self, state: State, changed: Changes | None = None) -> bytes:
        """The file's bytes. `changed`: the records put or removed since the last call,
        section -> keys (None: find out by scanning every record)."""
        return b"".join(self.chunks(state, changed))

    def chunks(self, state: State, changed: Changes | None = None) -> list[bytes]:
        """The file's bytes in pieces, to be written one after another (as `encode`; a
        fleet's state is megabytes, and joining them is a copy for nothing)."""
        fields: dict[str, bytes] = {
            "format_version": _dumps(state.format_version).encode(),
            "lineage": _dumps(state.lineage).encode(),
            "serial": _dumps(state.serial).encode(),
        }
        if state.unadopted:  # small and rarely written (rlcm adopt): encoded whole, nested
            fields["unadopted"] = _dumps(state.unadopted).replace("\n", "\n  ").encode()
        for section in (*_SECTIONS, *_OPTIONAL_SECTIONS):
            records = getattr(state, section)
            if records or section in _SECTIONS:
                fields[section] = self._section(section, records, changed)
        if state.source is not None:
            fields["source"] = _dumps(state.source).encode()
        chunks = [b"{\n"]
        for name in sorted(fields):
            chunks += [b'  "%s": ' % name.encode(), fields[name], b",\n"]
        chunks[-1] = b"\n}\n"
        check = changed is not None and os.environ.get(_SELFCHECK)
        if check and b"".join(chunks) != encode_state(state):
            raise AssertionError(f"state encoding with changed={dict(changed or {})} is stale")
        return chunks

    def _section(
        self, section: str, records: dict[str, BaseModel], changed: Changes | None
    ) -> bytes:
        cache = self._cache.get(section)
        if changed is None or cache is None:
            return self._scan(section, records)
        keys = changed.get(section, ())
        order = self._order[section]
        for key in keys:
            record = records.get(key)
            if record is None:
                if cache.pop(key, None) is not None:
                    del order[bisect.bisect_left(order, key)]
                continue
            if key not in cache:
                bisect.insort(order, key)
            cache[key] = (record, _signature(record), _line(key, record))
        if len(order) != len(records):  # put or removed without being named: scan
            return self._scan(section, records)
        if keys or section not in self._bytes:
            self._bytes[section] = self._join(order, cache)
        return self._bytes[section]

    def _scan(self, section: str, records: dict[str, BaseModel]) -> bytes:
        old = self._cache.get(section, {})
        new: dict[str, tuple[BaseModel, tuple[Any, ...], bytes]] = {}
        order = sorted(records)
        for key in order:
            record = records[key]
            signature = _signature(record)
            entry = old.get(key)
            if entry is None or entry[0] is not record or entry[1] != signature:
                entry = (record, signature, _line(key, record))
            new[key] = entry
        self._cache[section] = new  # records no longer in the state drop out here
        self._order[section] = order
        self._bytes[section] = self._join(order, new)
        return self._bytes[section]

    @staticmethod
    def _join(
        order: list[str], cache: dict[str, tuple[BaseModel, tuple[Any, ...], bytes]]
    ) -> bytes:
        if not order:
            return b"{}"
        return b"{\n" + b",\n".join([cache[key][2] for key in order]) + b"\n  }"


def _line(key: str, record: BaseModel) -> bytes:
    """One record's lines (ASCII: json.dumps escapes everything else)."""
    text = _dumps(record.model_dump(mode="json")).replace("\n", "\n" + _RECORD_INDENT)
    return f"{_RECORD_INDENT}{_dumps(key)}: {text}".encode()

"""State addresses (`manifest.NAME`, `export.NAME`, `import.NAME@TARGET`, `pending.NAME`,
`baseline.TARGET`).

Each address names one record in one of State's sections; `rlcm state show|rm` and plans
use them.
"""

from __future__ import annotations

import difflib

from pydantic import BaseModel

from reconciler.errors import StateError
from reconciler.state.model import State

__all__ = ["SECTIONS", "find_record", "remove_record", "split_address", "suggest"]

# address prefix -> State field holding those records
SECTIONS: dict[str, str] = {
    "manifest": "manifests",
    "export": "packages",
    "import": "imports",
    "pending": "pending",
    "baseline": "baselines",
}


def split_address(address: str) -> tuple[str, str] | None:
    """(section field, key) of an address, None when it is not one."""
    prefix, dot, key = address.partition(".")
    if not dot or not key or prefix not in SECTIONS:
        return None
    return SECTIONS[prefix], key


def find_record(state: State, address: str, where: str = "state") -> BaseModel:
    """The record at `address`; StateError naming close matches when there is none."""
    parts = split_address(address)
    records: dict[str, BaseModel] = getattr(state, parts[0]) if parts else {}
    if parts is None or parts[1] not in records:
        raise StateError(_unknown(state, address, where))
    return records[parts[1]]


def remove_record(state: State, address: str, where: str = "state") -> BaseModel:
    """Remove and return the record at `address` (StateError if there is none)."""
    record = find_record(state, address, where)
    parts = split_address(address)
    assert parts is not None  # find_record accepted it
    del getattr(state, parts[0])[parts[1]]
    return record


def suggest(state: State, address: str) -> list[str]:
    return difflib.get_close_matches(address, state.addresses(), n=3, cutoff=0.6)


def _unknown(state: State, address: str, where: str) -> str:
    message = f"no {address!r} in {where}"
    if split_address(address) is None:
        message += " (addresses look like manifest.NAME, export.NAME, import.NAME@TARGET)"
    close = suggest(state, address)
    if close:
        message += "; did you mean " + ", ".join(close) + "?"
    return message

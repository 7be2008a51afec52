"""Real package zips: paths mirror folders, files are `<snake_name>.<asset_type>.json`."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_PACKAGE_BYTES",
    "PackageEntry",
    "build_zip",
    "parse_entry_name",
    "read_zip",
    "zip_file_name",
]

MAX_PACKAGE_BYTES = 100 * 1024 * 1024  # the import guide's cap (an older page: 30 MB)
# A fixed timestamp keeps equal content byte-identical, so digests are stable.
_ZIP_DATE = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PackageEntry:
    """One file of a package: its folder path inside the zip, type and JSON body."""

    path: str  # "Mappings/account_mappings.lookup_table.json"
    asset_type: str
    body: dict[str, Any]

    @property
    def folder(self) -> str:
        return self.path.rpartition("/")[0]


def snake(name: str) -> str:
    text = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lower()).strip("_")
    return text or "asset"


def zip_file_name(name: str, asset_type: str) -> str:
    return f"{snake(name)}.{asset_type}.json"


def parse_entry_name(path: str) -> tuple[str, str] | None:
    """(folder path, asset type) of a zip entry, or None for non-asset files."""
    folder, _, file_name = path.rpartition("/")
    parts = file_name.split(".")
    if len(parts) < 3 or parts[-1] != "json":
        return None
    return folder, parts[-2]


def build_zip(entries: list[PackageEntry]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in sorted(entries, key=lambda e: e.path):
            info = zipfile.ZipInfo(entry.path, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, json.dumps(entry.body, indent=2, sort_keys=True))
    return buffer.getvalue()


class BadPackage(ValueError):
    """The uploaded body is not a usable package zip."""


def read_zip(blob: bytes) -> list[PackageEntry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except zipfile.BadZipFile as exc:
        raise BadPackage("Package is not a valid zip file") from exc
    entries: list[PackageEntry] = []
    with archive:
        for info in archive.infolist():
            if info.is_dir() or ".." in info.filename.split("/") or info.filename.startswith("/"):
                continue
            parsed = parse_entry_name(info.filename)
            if parsed is None:
                continue  # e.g. an .lcap_app.png beside the JSON files
            try:
                body = json.loads(archive.read(info))
            except ValueError as exc:
                raise BadPackage(f"Package entry {info.filename} is not valid JSON") from exc
            if isinstance(body, dict):
                entries.append(PackageEntry(info.filename, parsed[1], body))
    return entries

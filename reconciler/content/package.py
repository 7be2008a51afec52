"""Inspect a package zip before anything is done with it.

A package comes from Workato (or from a cache file) and is sent on to customer
workspaces, so it is checked once, before the first import, for everything that would
make it dangerous or meaningless: not a zip, paths that escape (`../`, absolute), symlink
entries, a zip bomb (total size and per-entry ratio caps), too many entries, and JSON
entries that are not UTF-8 JSON or are huge. Nothing is ever extracted to disk.

Entries are `<folder path>/<name>.<asset_type>.json` (some non-JSON entries exist, e.g.
`.lcap_app.png`); what an entry holds is read only as far as a recipe's name and version.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from reconciler.errors import PackageError

__all__ = [
    "MAX_ENTRIES",
    "MAX_JSON_ENTRY",
    "MAX_PACKAGE_BYTES",
    "MAX_RATIO",
    "MAX_UNCOMPRESSED",
    "PackageEntry",
    "PackageInfo",
    "inspect_package",
    "package_digest",
]

# Workato's import guide caps packages at 100 MB (an older page says 30 MB); the cap is
# `api.max_package_mb` in config, and this the default
MAX_PACKAGE_BYTES = 100 * 1024 * 1024
MAX_UNCOMPRESSED = 256 * 1024 * 1024  # all entries together, uncompressed
MAX_JSON_ENTRY = 16 * 1024 * 1024  # one JSON entry, uncompressed
MAX_RATIO = 200  # uncompressed / compressed for one entry; text compresses ~10x
MAX_ENTRIES = 20_000


@dataclass(frozen=True, slots=True)
class PackageEntry:
    path: str
    asset_type: str  # from the file name: `sync_accounts.recipe.json` -> recipe
    name: str | None  # the asset's `name` from its JSON, when it has one
    version: int | None  # the asset's `version` from its JSON, when it has one


@dataclass(frozen=True, slots=True)
class PackageInfo:
    digest: str
    size: int
    entries: tuple[PackageEntry, ...]

    def versions(self) -> dict[str, int | None]:
        """`type:name` -> version of every named asset in the package."""
        return {f"{e.asset_type}:{e.name}": e.version for e in self.entries if e.name}


def package_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# What zipfile, zlib and json raise on damaged bytes besides BadZipFile (seen in a fuzz of
# byte-flipped packages): a broken deflate stream (zlib.error), a truncated one
# (EOFError), an unsupported compression method (NotImplementedError), a 100,000-digit
# number (ValueError), a bad header (IndexError). `inspect_package` catches the rest.
_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    IndexError,
    KeyError,
    OverflowError,
)


def inspect_package(
    data: bytes, *, where: str = "package", max_bytes: int = MAX_PACKAGE_BYTES
) -> PackageInfo:
    """Check a package and list its assets; PackageError (one line, naming `where`) if unsafe.

    Nothing else ever escapes: whatever damaged bytes make zipfile, zlib or json raise
    becomes a PackageError, so a caller (the export step, the cache) never dies of it.
    """
    try:
        return _inspect(data, where, max_bytes)
    except PackageError:
        raise
    except Exception as exc:  # damaged input of any kind is a refusal
        raise PackageError(f"{where} cannot be read ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _inspect(data: bytes, where: str, max_bytes: int) -> PackageInfo:
    if len(data) > max_bytes:
        cap = f"{max_bytes / (1024 * 1024):g} MB"
        raise PackageError(f"{where} is {len(data)} bytes, over the {cap} cap (api.max_package_mb)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise PackageError(f"{where} is not a zip file ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise PackageError(f"{where} has {len(infos)} entries (limit {MAX_ENTRIES})")
        _check_sizes(infos, where)
        entries = tuple(_entry(archive, info, where) for info in infos if not info.is_dir())
    return PackageInfo(package_digest(data), len(data), entries)


def _check_sizes(infos: list[zipfile.ZipInfo], where: str) -> None:
    total = 0
    for info in infos:
        _check_path(info, where)
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > MAX_RATIO:
            raise PackageError(
                f"{where}: entry {info.filename!r} expands {ratio:.0f}x (a zip bomb?)"
            )
    if total > MAX_UNCOMPRESSED:
        raise PackageError(f"{where} expands to {total} bytes (limit {MAX_UNCOMPRESSED})")


def _check_path(info: zipfile.ZipInfo, where: str) -> None:
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
        raise PackageError(f"{where}: entry {name!r} points outside the package")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise PackageError(f"{where}: entry {name!r} is a symbolic link")


def _entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> PackageEntry:
    base = PurePosixPath(info.filename).name
    parts = base.split(".")
    asset_type = parts[-2] if len(parts) >= 3 else parts[-1]
    if not base.endswith(".json"):
        return PackageEntry(info.filename, asset_type, None, None)
    if info.file_size > MAX_JSON_ENTRY:
        raise PackageError(f"{where}: entry {info.filename!r} is {info.file_size} bytes of JSON")
    content = _json(archive, info, where)
    name = content.get("name") if isinstance(content, dict) else None
    version = content.get("version") if isinstance(content, dict) else None
    return PackageEntry(
        info.filename,
        asset_type,
        name if isinstance(name, str) else None,
        version if isinstance(version, int) and not isinstance(version, bool) else None,
    )


def _json(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> Any:
    try:
        raw = archive.read(info)
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PackageError(f"{where}: entry {info.filename!r} is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PackageError(f"{where}: entry {info.filename!r} is not JSON ({exc.msg})") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise PackageError(f"{where}: entry {info.filename!r} is not JSON ({_why(exc)})") from None
    except _DAMAGE as exc:
        raise PackageError(
            f"{where}: entry {info.filename!r} cannot be read ({_why(exc)})"
        ) from None

"""Package download helpers: origins, redirects, the size cap and the zip check.

The download answer redirects to another host (a storage bucket). httpx would forward
custom headers such as `x-user-token` on a cross-origin redirect, so the client follows
redirects itself and sends credentials only to the API's own origin (see
`WorkatoClient.download_package`). Pre-signed URLs carry signatures in the query, so
`describe_url` drops the query before a URL appears in a message.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

import httpx

from reconciler.errors import PackageError

__all__ = [
    "DOWNLOAD_ACCEPT",
    "MAX_PACKAGE_BYTES",
    "check_zip",
    "describe_url",
    "read_capped",
    "same_origin",
]

# Workato's import guide: 100 MB (an older page says 30 MB); `api.max_package_mb` changes it
MAX_PACKAGE_BYTES = 100 * 1024 * 1024
# Downloads answer application/zip or application/octet-stream (SPEC): say we take both
DOWNLOAD_ACCEPT = "application/zip, application/octet-stream;q=0.9, */*;q=0.1"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme))


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """Scheme, host and port all equal (another port is another origin)."""
    return _origin(a) == _origin(b)


def describe_url(url: httpx.URL) -> str:
    """The URL without query or fragment: safe to show."""
    return str(url.copy_with(query=None, fragment=None))


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


async def read_capped(response: httpx.Response, max_bytes: int, what: str) -> bytes:
    """The body, refusing to hold more than `max_bytes` (checked while streaming)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PackageError(
            f"{what} is {_megabytes(int(declared))}, over the {_megabytes(max_bytes)} cap"
            " (api.max_package_mb)"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise PackageError(
                f"{what} is larger than the {_megabytes(max_bytes)} cap (api.max_package_mb)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def check_zip(data: bytes, what: str) -> None:
    """A readable zip whose entries stay inside the folder they are extracted to."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise PackageError(f"{what} is not a zip file ({len(data)} bytes)") from exc
    for name in names:
        path = PurePosixPath(name.replace("\\", "/"))
        drive = len(name) > 1 and name[1] == ":"  # C:\... would escape on Windows
        if path.is_absolute() or ".." in path.parts or drive:
            raise PackageError(f"{what} has an unsafe entry {name!r}")

"""`--report FILE`: an apply report written in the format its extension names."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from reconciler.errors import RlcmError
from reconciler.render import report_json, report_junit, report_markdown
from reconciler.report import ApplyReport

__all__ = ["REPORT_EXTENSIONS", "prepare_report_paths", "render_report_to", "write_report"]

Renderer = Callable[..., None]
REPORT_EXTENSIONS: dict[str, Renderer] = {
    ".json": report_json.render,
    ".md": report_markdown.render,
    ".xml": report_junit.render,
}


def prepare_report_paths(paths: Sequence[Path]) -> None:
    """Pre-flight of `--report`, before apply changes anything: every path has a known
    extension and can be written (missing directories are created). A report that cannot
    be written after the imports ran would be lost, and CI would read exit 1 as "nothing
    ran"; refused here, nothing has run."""
    for path in paths:
        if path.suffix.lower() not in REPORT_EXTENSIONS:
            accepted = ", ".join(REPORT_EXTENSIONS)
            raise RlcmError(
                f"--report {path}: unknown report format {path.suffix or '(no extension)'}; "
                f"use one of the extensions {accepted}"
            )
        if path.is_dir():
            raise RlcmError(f"--report {path}: is a directory, not a file")
        directory = path.parent if str(path.parent) else Path(".")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
            os.close(fd)
            os.unlink(probe)
            if path.exists() and not os.access(path, os.W_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise RlcmError(f"--report {path}: cannot be written ({reason})") from None


def render_report_to(report: ApplyReport, path: Path) -> str:
    """The report's text in the format `path`'s extension names."""
    renderer = REPORT_EXTENSIONS.get(path.suffix.lower())
    if renderer is None:
        accepted = ", ".join(REPORT_EXTENSIONS)
        raise RlcmError(f"{path}: unknown report format; use one of the extensions {accepted}")
    buffer = io.StringIO()
    renderer(report, buffer, color=False)
    return buffer.getvalue()


def write_report(report: ApplyReport, path: Path) -> None:
    """Writes atomically: a reader (or a crash) never sees half a report."""
    text = render_report_to(report, path)
    try:
        _atomic_write(path, text)
    except OSError as exc:
        raise RlcmError(f"{path}: cannot write the report ({exc.strerror or exc})") from exc


def _atomic_write(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            _write_synced(handle, text)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_synced(handle: TextIO, text: str) -> None:
    handle.write(text)
    handle.flush()
    os.fsync(handle.fileno())

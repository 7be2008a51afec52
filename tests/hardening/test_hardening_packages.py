"""Hostile packages served by the simulator for download: `rlcm apply` refuses each one.

The simulator's `serve_package` makes every export of manifest crm-sync yield the given
bytes. The apply must name crm-sync and the reason in one line, write nothing outside its
cache (and not even cache the package), import nothing of it, and leave state valid.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from collections.abc import Callable

import pytest
from hardening_world import World, check_result, record

RECIPE = "CRM sync/sync_accounts.recipe.json"
GOOD_JSON = json.dumps({"name": "Sync accounts", "version": 4, "code": {}, "config": []})


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], *, level: int = 9) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_slip_parent() -> bytes:
    return _zip([(RECIPE, GOOD_JSON.encode()), ("../../escaped.recipe.json", GOOD_JSON.encode())])


def zip_slip_absolute() -> bytes:
    return _zip([("/tmp/rlcm-escaped.recipe.json", GOOD_JSON.encode())])


def zip_slip_windows_drive() -> bytes:
    return _zip([("C:\\Windows\\escaped.recipe.json", GOOD_JSON.encode())])


def symlink_entry() -> bytes:
    info = zipfile.ZipInfo("CRM sync/link.recipe.json")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip([(RECIPE, GOOD_JSON.encode()), (info, b"/etc/passwd")])


def bomb_ratio() -> bytes:
    return _zip([("CRM sync/bomb.recipe.json", b" " * (64 * 1024 * 1024))])


def bomb_total() -> bytes:
    # each entry at the per-entry ratio threshold, together over the uncompressed cap
    chunk = b"\0" * (1024 * 1024)
    return _zip([(f"CRM sync/blob{i}.lcap_app.png", chunk) for i in range(300)], level=1)


def over_the_cap() -> bytes:
    """Over the default 100 MB cap (Workato's import guide), as one incompressible entry."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("CRM sync/big.lcap_app.png", os.urandom(101 * 1024 * 1024))
    return buffer.getvalue()


def not_a_zip() -> bytes:
    return b"<html><body>Access denied</body></html>"


def truncated_zip() -> bytes:
    return _zip([(RECIPE, GOOD_JSON.encode())])[:-30]


def non_utf8_json() -> bytes:
    return _zip([(RECIPE, b'{"name": "Sync accounts\xff\xfe", "version": 4}')])


def not_json() -> bytes:
    return _zip([(RECIPE, b"{'name': 'python, not JSON'")])


def huge_json() -> bytes:
    pad = os.urandom(9 * 1024 * 1024).hex()  # 18 MB of JSON, incompressible enough
    return _zip([(RECIPE, json.dumps({"name": "Sync accounts", "pad": pad}).encode())], level=1)


HOSTILE: dict[str, Callable[[], bytes]] = {
    "zip_slip_parent": zip_slip_parent,
    "zip_slip_absolute": zip_slip_absolute,
    "zip_slip_windows_drive": zip_slip_windows_drive,
    "symlink_entry": symlink_entry,
    "bomb_ratio": bomb_ratio,
    "bomb_total": bomb_total,
    "over_the_cap": over_the_cap,
    "not_a_zip": not_a_zip,
    "truncated_zip": truncated_zip,
    "non_utf8_json": non_utf8_json,
    "not_json": not_json,
    "huge_json": huge_json,
}
SLOW = {"bomb_total", "over_the_cap", "huge_json", "bomb_ratio"}


def _cases() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in HOSTILE
    ]


def _files(world: World) -> set[str]:
    skip = {"sim"}
    return {
        str(p.relative_to(world.root))
        for p in world.root.rglob("*")
        if p.is_file() and p.relative_to(world.config).parts[0] not in skip
    }


@pytest.mark.usefixtures("no_stray_writes")
@pytest.mark.parametrize("case", _cases())
def test_hostile_package_is_refused(world: World, case: str) -> None:
    record("hostile_tried")
    blob = HOSTILE[case]()
    world.sim.serve_package("crm-sync", blob)
    result = world.run("apply", "--auto-approve", f"--report={world.root}/r.json")
    check_result(world, result)

    assert result.exit_code in (1, 3), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    report = json.loads((world.root / "r.json").read_text())
    failed = [s for s in _steps(report) if s["status"] == "failed"]
    assert [s["address"] for s in failed] == ["export.crm-sync"], failed
    message = failed[0]["message"]
    assert "\n" not in message and "package" in message, message
    assert "Traceback" not in result.output
    # one line on stderr names the step (and so the manifest), the package and the reason
    lines = [ln for ln in result.stderr.splitlines() if "export.crm-sync failed (" in ln]
    assert len(lines) == 1 and "package" in lines[0] and message in lines[0], result.stderr

    # nothing imported: only shared-connections reached the target
    imports = [r for r in world.sim.request_log() if r.kind == "import"]
    assert len(imports) == 1, imports
    state = world.state()
    assert "crm-sync@acme" not in state.imports
    # nothing cached of it, nothing written but state, report and cache of the good package
    cached = list((world.config / ".rlcm" / "cache").glob("*.zip"))
    assert all(p.read_bytes() != blob for p in cached)
    assert not (world.root.parent / "escaped.recipe.json").exists()
    assert not os.path.exists("/tmp/rlcm-escaped.recipe.json")
    record("hostile_handled")

    # the package fixed, the next apply converges
    world.sim.serve_package("crm-sync", None)
    again = world.run("apply", "--auto-approve")
    assert again.exit_code == 0, again.output
    assert world.state().imports["crm-sync@acme"].status == "completed"


def _steps(report: dict[str, object]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "address" in node and "status" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(report)
    return found

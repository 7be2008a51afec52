"""A step that fails for any reason fails that step and what depends on it, never hangs.

Damaged packages (a broken deflate stream, a 100,000-digit `version`), a damaged cache
entry and a malformed field in a saved plan each used to raise something that is not an
`RlcmError`: the export task died and the imports waited for a package nobody would
deliver, holding the lock forever. Each apply here runs as a subprocess with a timeout,
so a hang fails the test instead of hanging the suite.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from hardening_world import World, check_result, record

from reconciler.content.package import inspect_package
from reconciler.errors import PackageError

RECIPE = "CRM sync/sync_accounts.recipe.json"


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def damaged_deflate() -> bytes:
    """A zip whose central directory is intact but whose deflate stream is garbage."""
    body = json.dumps({"name": "Sync accounts", "version": 4, "pad": "x" * 400}).encode()
    blob = bytearray(_zip([(RECIPE, body)]))
    with zipfile.ZipFile(io.BytesIO(bytes(blob))) as archive:
        info = archive.getinfo(RECIPE)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    blob[start : start + 8] = b"\xff" * 8  # zlib: invalid block type
    return bytes(blob)


def huge_version() -> bytes:
    return _zip([(RECIPE, b'{"name": "Sync accounts", "version": ' + b"9" * 100_000 + b"}")])


def unknown_compression() -> bytes:
    blob = bytearray(_zip([(RECIPE, b'{"name": "Sync accounts", "version": 4}')]))
    with zipfile.ZipFile(io.BytesIO(bytes(blob))) as archive:
        info = archive.getinfo(RECIPE)
    for offset in (info.header_offset + 8, blob.rfind(b"PK\x01\x02") + 10):
        blob[offset : offset + 2] = (99).to_bytes(2, "little")  # AES: not supported
    return bytes(blob)


DAMAGED = {
    "damaged_deflate": damaged_deflate,
    "huge_version": huge_version,
    "unknown_compression": unknown_compression,
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_inspect_package_turns_every_damage_into_a_package_error(case: str) -> None:
    with pytest.raises(PackageError, match=r"^package 7: ") as raised:
        inspect_package(DAMAGED[case](), where="package 7")
    assert "\n" not in str(raised.value)


def _lock(world: World) -> Path:
    return world.state_path.with_name(world.state_path.name + ".lock")


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_an_apply_with_a_damaged_package_ends_and_releases_the_lock(
    world: World, case: str
) -> None:
    record("hostile_tried")
    world.sim.serve_package("crm-sync", DAMAGED[case]())
    done = world.run_process("apply", "--auto-approve", timeout=60)
    assert done.returncode in (1, 3), done.stderr
    assert "Traceback" not in done.stderr
    failed = [ln for ln in done.stderr.splitlines() if "export.crm-sync failed (" in ln]
    assert len(failed) == 1 and "package" in failed[0], done.stderr
    assert not _lock(world).exists()
    assert "crm-sync@acme" not in world.state().imports
    record("hostile_handled")


def _cached(world: World) -> list[Path]:
    return sorted((world.config / ".rlcm" / "cache").glob("*.zip"))


def test_a_damaged_cache_entry_is_discarded_and_the_package_fetched_again(world: World) -> None:
    # crm-sync's import fails once, so the next apply re-imports the recorded package,
    # which it takes from the cache
    world.sim.fail_next_import("E-acme-001", 1827, ["stop_failed"])
    first = world.run("apply", "--auto-approve")
    assert first.exit_code == 3, first.output
    state = world.state()
    digest = str(state.packages["crm-sync"].digest)
    entry = world.config / ".rlcm" / "cache" / f"{digest.partition(':')[2]}.zip"
    entry.write_bytes(damaged_deflate())  # the same name, other (damaged) bytes

    again = world.run("apply", "--auto-approve")
    check_result(world, again)
    assert again.exit_code == 0, again.output
    assert world.state().imports["crm-sync@acme"].status == "completed"
    assert world.state().imports["crm-sync@acme"].package_digest == digest
    assert inspect_package(entry.read_bytes()).digest == digest  # fetched and cached anew


def test_a_malformed_field_in_a_saved_plan_is_a_clear_error(world: World) -> None:
    out = world.root / "plan.json"
    made = world.run("plan", f"--out={out}")
    assert made.exit_code == 0, made.output
    plan = json.loads(out.read_text())
    export = next(c for c in plan["changes"] if c["kind"] == "export")
    export["data"]["asset_versions"] = "not a list"
    out.write_text(json.dumps(plan))

    done = world.run_process("apply", str(out), "--auto-approve", timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: ") and str(out) in line, done.stderr
    assert not _lock(world).exists()

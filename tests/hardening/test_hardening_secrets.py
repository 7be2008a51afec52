"""A canary token (and email) through every command, failures included: it leaks nowhere.

Checked after every command: stdout, stderr (logs included, at -vv and --debug), every file
the run left (plans, reports, state, lock, cache, the simulator's request log) and the
exception's str, repr and traceback. The simulator logs which credential headers reached
each host, which proves the download host never gets one.
"""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from hardening_world import (
    CANARY_EMAIL,
    CANARY_TOKEN,
    EMAIL_ENV,
    TOKEN_ENV,
    World,
    assert_no_leak,
    check_result,
    record,
)

DEBUG = ("--debug", "-vv")


def _apply(world: World, *extra: str) -> None:
    reports = [f"--report={world.root / name}" for name in ("r.json", "r.md", "r.xml")]
    result = world.run("apply", "--auto-approve", *reports, *DEBUG, *extra)
    check_result(world, result)


def test_every_command_with_debug_keeps_the_token_secret(world: World) -> None:
    check_result(world, world.run("validate", *DEBUG))
    for fmt in ("text", "json", "markdown"):
        plan = world.root / f"plan-{fmt}.json"
        result = world.run("plan", "--format", fmt, "--out", str(plan), *DEBUG)
        assert result.exit_code == 0, result.output
        check_result(world, result)
        for show_fmt in ("text", "json", "markdown"):
            check_result(world, world.run("show", str(plan), "--format", show_fmt, *DEBUG))
    saved = world.root / "plan-json.json"
    result = world.run("apply", str(saved), "--auto-approve", f"--report={world.root}/s.json")
    assert result.exit_code == 0, result.output
    check_result(world, result)
    for fmt in ("text", "json", "markdown"):
        _apply(world, "--format", fmt)
    world.sim.bump_recipe_version("E-template", "Sync accounts")
    drift_reports = [f"--report={world.root}/d.{ext}" for ext in ("json", "md", "txt")]
    for fmt in ("text", "json", "markdown"):
        result = world.run("drift", "--format", fmt, *drift_reports, *DEBUG)
        assert result.exit_code == 2, result.output
        check_result(world, result)
    check_result(world, world.run("state", "list", *DEBUG))
    check_result(world, world.run("state", "show", "manifest.crm-sync", *DEBUG))
    check_result(world, world.run("state", "show", "import.crm-sync@acme", *DEBUG))
    manifest_id = world.state().manifests["crm-sync"].id
    check_result(world, world.run("state", "rm", "manifest.crm-sync", *DEBUG))
    result = world.run("adopt", "manifest.crm-sync", str(manifest_id), *DEBUG)
    assert result.exit_code == 0, result.output
    check_result(world, result)
    _apply(world)  # the demo's plan, apply, plan again
    check_result(world, world.run("plan", "--detailed-exitcode", *DEBUG))
    assert (world.config / ".rlcm" / "cache").is_dir()


def test_legacy_auth_keeps_email_and_token_secret(legacy_world: World) -> None:
    world = legacy_world
    result = world.run("plan", "--out", str(world.root / "p.json"), *DEBUG)
    assert result.exit_code == 0, result.output
    check_result(world, result)
    _apply(world)
    check_result(world, world.run("drift", f"--report={world.root}/d.json", *DEBUG))


@pytest.mark.parametrize("auth", ["bearer", "legacy"])
def test_no_credential_header_reaches_the_download_host(tmp_path: Path, auth: str) -> None:
    from hardening_world import make_world

    world = make_world(tmp_path, auth=auth)
    result = world.run("apply", "--auto-approve", *DEBUG)
    assert result.exit_code == 0, result.output
    downloads = [r for r in world.sim.request_log() if r.family == "assets"]
    assert downloads, "no package was downloaded"
    assert all(r.credential_headers == () for r in downloads), downloads
    api = [r for r in world.sim.request_log() if r.family == "embedded"]
    assert all(r.auth == auth for r in api)
    record("leak_checks", len(downloads))
    check_result(world, result)


def _refuse_canary(world: World) -> None:
    store = world.sim.engine.store
    with store.locked():
        meta = store.read("meta.json")
        meta["auth"] = {"tokens": ["someone-else"], "legacy": {}}
        store.write("meta.json", meta)


def _non_zip(world: World) -> None:
    world.sim.serve_package("crm-sync", b"<html>" + CANARY_TOKEN.encode()[:0] + b"nope</html>")


FAILURES = {
    "401": _refuse_canary,
    "500": lambda w: w.sim.inject_fault("*", "500", 50),
    "502": lambda w: w.sim.inject_fault("*", "502", 50),
    "timeout": lambda w: w.sim.inject_fault("*", "slow", 50, delay=2.0),
    "html": lambda w: w.sim.inject_fault("export", "html", 5),
    "malformed": lambda w: w.sim.inject_fault("manifest_create", "malformed_json", 5),
    "wrong_type": lambda w: w.sim.inject_fault("import_status", "wrong_type", 5),
    "drop": lambda w: w.sim.inject_fault("import", "drop", 5),
    "bad_package": _non_zip,
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_failures_keep_the_token_secret(world: World, failure: str) -> None:
    world.write_config(timeout=0.3)
    FAILURES[failure](world)
    for command in (("plan", "--out", str(world.root / "p.json")), ("apply", "--auto-approve")):
        result = world.run(*command, *DEBUG, f"--report={world.root}/r.json")
        check_result(world, result)
        result = world.run(*command, "-vv")
        check_result(world, result)
    world.sim.clear_faults()
    check_result(world, world.run("drift", *DEBUG))


def test_not_found_keeps_the_token_secret(world: World) -> None:
    result = world.run("adopt", "manifest.crm-sync", "999999", *DEBUG)
    assert result.exit_code != 0
    check_result(world, result)
    result = world.run("adopt", "manifest.crm-sync", "999999", "-vv")
    assert result.exit_code == 1
    assert "404" in result.stderr or "not found" in result.stderr.lower()
    check_result(world, result)


def test_debug_tracebacks_of_a_real_process_hold_no_secret(world: World) -> None:
    _refuse_canary(world)
    done = world.run_process("apply", "--auto-approve", "--debug")
    assert done.returncode != 0
    assert_no_leak(world, done.stdout, done.stderr)
    world.sim.inject_fault("*", "html", 20)
    done = world.run_process("plan", "--debug", "-vv")
    assert "Traceback" in done.stderr  # --debug shows the traceback ...
    assert_no_leak(world, done.stdout, done.stderr)  # ... without the secret


@pytest.mark.parametrize("value", ["", "   "])
def test_missing_or_empty_token_variable_is_named_not_echoed(world: World, value: str) -> None:
    for command in (("plan",), ("apply", "--auto-approve"), ("drift",)):
        result = world.run(*command, env={TOKEN_ENV: value})
        assert result.exit_code == 1
        assert TOKEN_ENV in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        check_result(world, result)


def test_legacy_missing_email_does_not_echo_the_token(legacy_world: World) -> None:
    result = legacy_world.run("plan", "--debug", env={EMAIL_ENV: ""})
    assert result.exit_code == 1
    assert EMAIL_ENV in (result.stderr + str(result.exception))
    check_result(legacy_world, result)


def test_state_and_cache_hold_no_credential(world: World) -> None:
    result = world.run("apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    text = world.state_path.read_text()
    assert CANARY_TOKEN not in text and CANARY_EMAIL not in text
    cache = list((world.config / ".rlcm" / "cache").glob("*.zip"))
    assert cache
    for path in cache:
        with zipfile.ZipFile(BytesIO(path.read_bytes())) as archive:
            for name in archive.namelist():
                body = archive.read(name).decode("utf-8", "replace")
                assert CANARY_TOKEN not in body
                json.loads(body)
    record("leak_checks", 1 + len(cache))


@pytest.mark.parametrize("suffix", ["\nX-Injected: 1", "\u00f6\u20ac", "\x7f\x1b[2J", " two words"])
@pytest.mark.parametrize("variable", [TOKEN_ENV, EMAIL_ENV])
def test_a_credential_that_cannot_be_a_header_is_refused_unseen(
    legacy_world: World, variable: str, suffix: str
) -> None:
    value = (CANARY_TOKEN if variable == TOKEN_ENV else CANARY_EMAIL) + suffix
    for debug in ((), ("--debug",)):
        result = legacy_world.run("plan", *debug, env={variable: value})
        check_result(legacy_world, result)
        text = result.stderr + str(result.exception or "")
        assert result.exit_code == 1
        assert variable in text and "not shown" in text
        assert suffix.strip() not in text if suffix.strip() else True


OWN_WORKSPACE = f"""\
kind: Workspace
name: own
api:
  base_url: sim://sim
  token_env: {TOKEN_ENV}
  rate_limits: {{other: 100000, dev_imports: 100000}}
  poll: {{interval: 0.01, max_interval: 0.05}}
---
kind: Source
workspace: own
---
kind: Manifest
name: integrations
folder_id: 510
assets:
  - {{type: connection, name: Salesforce}}
  - {{type: recipe, name: Nightly export}}
---
kind: Target
name: staging
workspace: own
folder_id: 610
manifests: [integrations]
restart_recipes: true
"""


def test_developer_api_downloads_send_no_credentials(world: World) -> None:
    for name in ("workspace.yaml", "manifests.yaml", "targets.yaml"):
        (world.config / name).unlink()
    (world.config / "own.yaml").write_text(OWN_WORKSPACE)
    reports = [f"--report={world.root}/r.{ext}" for ext in ("json", "md", "xml")]
    result = world.run("apply", "--auto-approve", *reports, *DEBUG)
    assert result.exit_code == 0, result.output
    log = world.sim.request_log()
    assert any(r.kind == "download" and r.family == "developer" for r in log)
    downloads = [r for r in log if r.family == "assets"]
    assert downloads and all(r.credential_headers == () for r in downloads), downloads
    check_result(world, result)
    check_result(world, world.run("drift", *DEBUG))


def test_a_token_pasted_into_yaml_is_not_echoed(world: World) -> None:
    path = world.config / "workspace.yaml"
    clean = path.read_text()
    path.write_text(clean.replace(f"token_env: {TOKEN_ENV}", f"token_env: {CANARY_TOKEN}"))
    results = [world.run(command, "--debug") for command in ("validate", "plan")]
    path.write_text(clean)  # the pasted secret's own file is not rlcm's output
    for result in results:
        assert result.exit_code == 1
        assert "token_env" in (result.stderr + str(result.exception))
        check_result(world, result)


def test_the_dsn_password_stays_secret(pg_world: World) -> None:
    """With the state in PostgreSQL: the DSN's password is nowhere, the database included
    (World.stored_text), through every command and a refused, unreachable or malformed DSN."""
    world = pg_world
    check_result(world, world.run("validate", *DEBUG))
    plan = world.root / "plan.json"
    result = world.run("plan", "--out", str(plan), *DEBUG)
    assert result.exit_code == 0, result.output
    check_result(world, result)
    result = world.run("apply", str(plan), "--auto-approve", f"--report={world.root}/r.json")
    assert result.exit_code == 0, result.output
    check_result(world, result)
    world.sim.bump_recipe_version("E-template", "Sync accounts")
    check_result(world, world.run("drift", *DEBUG))
    commands: tuple[tuple[str, ...], ...] = (
        ("state", "list"),
        ("state", "history"),
        ("state", "show", "manifest.crm-sync"),
        ("state", "show", "--serial", "2"),
        ("state", "pull"),
        ("state", "pull", "--out", str(world.root / "pulled.json")),
        ("state", "unlock"),
    )
    for command in commands:
        result = world.run(*command, *DEBUG)
        assert result.exit_code == 0, (command, result.output)
        check_result(world, result)
    # a refused password, an unreachable server, a malformed DSN: errors without it
    good = world.env["RLCM_HARDENING_STATE_DSN"]
    for broken in (
        good.replace("password=", "password=x"),
        good.replace("port=", "port=1") + " connect_timeout=2",
        good + " bogus_option=1",
    ):
        for failing in (("plan",), ("apply", "--auto-approve"), ("state", "list")):
            failed = world.run(*failing, *DEBUG, env={"RLCM_HARDENING_STATE_DSN": broken})
            assert failed.exit_code == 1, failed.output
            assert "PostgreSQL" in failed.stderr + str(failed.exception)  # --debug raises
            check_result(world, failed)
    done = world.run_process("plan", "--debug", "-vv")
    assert done.returncode == 0, done.stderr
    assert_no_leak(world, done.stdout, done.stderr)

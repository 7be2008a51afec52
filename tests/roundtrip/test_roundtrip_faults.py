"""Every fault the simulator injects, against the client.

Transient faults are retried where a retry cannot do anything twice; the simulator's
request log shows the retry and the workspace shows that nothing was created twice.
The others raise the typed error of `reconciler.errors`, whose message names the call
(method and path) and never a credential.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal

import pytest
from roundtrip_world import EMAIL, TOKEN, UNLIMITED, World, run

from reconciler.cli.connect import SIM_BASE_URL
from reconciler.errors import (
    ApiError,
    ApiTimeoutError,
    ConnectionFailedError,
    ProtocolError,
    RateLimitedError,
    ServerError,
)
from reconciler.simulator.transport import SimTransport
from reconciler.workato import models
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.models import ImportJob, ManifestBody, ManifestView

Auth = Literal["bearer", "legacy"]
Body = Callable[[WorkatoClient], Coroutine[Any, Any, Any]]
CRM = ManifestBody(name="crm-sync", folder_id=112, auto_generate_assets=True)
MANIFESTS = "/api/managed_users/E-template/export_manifests"
IMPORTS = "/api/managed_users/E-globex/imports"


def statuses(world: World, kind: str) -> list[int]:
    return [r.status for r in world.sim.request_log() if r.kind == kind]


def manifests_named(world: World, name: str) -> int:
    found = (world.sim.manifest("E-template", i) for i in range(501, 511))  # ids from 501
    return sum(1 for m in found if m is not None and m["name"] == name)


def imports_into(world: World, owner: str) -> int:
    jobs = (world.sim.job(owner, i) for i in range(3001, 3011))  # package ids from 3001
    return sum(1 for j in jobs if j is not None and j["kind"] == "import")


async def package(client: WorkatoClient) -> bytes:
    manifest = await client.create_manifest("E-template", CRM)
    done = await client.wait_export(
        "E-template", (await client.start_export("E-template", manifest.id)).id
    )
    return await client.download_package("E-template", done)


async def import_globex(client: WorkatoClient, blob: bytes) -> ImportJob:
    job = await client.start_import(
        "E-globex",
        2211,
        blob,
        restart_recipes=True,
        include_tags=False,
        folder_id_for_home_assets=None,
    )
    return await client.wait_import("E-globex", job.id)


def check_message(error: ApiError, method: str, path: str) -> None:
    text = str(error)
    assert text.startswith(f"{method} {path}"), text
    assert error.method == method and error.path == path
    assert TOKEN not in text and EMAIL not in text
    assert "\n" not in text


# -- transient faults: the client recovers --------------------------------------------


def test_429_with_retry_after_on_create_is_retried_once(world: World) -> None:
    world.sim.inject_fault("manifest_create", 429, retry_after=1)
    view = world.use(lambda c: c.create_manifest("E-template", CRM))
    assert statuses(world, "manifest_create") == [429, 200]
    assert manifests_named(world, "crm-sync") == 1
    assert world.sim.manifest("E-template", view.id) is not None


def test_429_without_retry_after_on_import_is_retried_once(world: World) -> None:
    async def body(client: WorkatoClient) -> ImportJob:
        blob = await package(client)
        world.sim.inject_fault("import", 429, retry_after=None)
        return await import_globex(client, blob)

    job = world.use(body)
    assert job.succeeded
    assert statuses(world, "import") == [429, 200]
    assert imports_into(world, "E-globex") == 1
    assert len(world.sim.folder_assets("E-globex", 2211)) == 3  # imported once, not twice


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("folder_assets", 500),
        ("folder_assets", 502),
        ("manifest_view", 503),
        ("export_status", 504),
        ("export_status", "drop"),
    ],
)
def test_transient_faults_on_reads_are_retried(world: World, kind: str, fault: int | str) -> None:
    async def body(client: WorkatoClient) -> None:
        manifest = await client.create_manifest("E-template", CRM)
        world.sim.inject_fault(kind, fault)
        await client.folder_assets("E-template", 112)
        await client.view_manifest("E-template", manifest.id)
        await client.wait_export(
            "E-template", (await client.start_export("E-template", manifest.id)).id
        )

    world.use(body)
    first = 0 if fault == "drop" else int(fault)
    assert statuses(world, kind)[:2] == [first, 200]
    assert statuses(world, "export") == [200]  # one export, whatever was retried


def test_503_on_import_is_retried_and_imports_once(world: World) -> None:
    async def body(client: WorkatoClient) -> ImportJob:
        blob = await package(client)
        world.sim.inject_fault("import", 503)
        return await import_globex(client, blob)

    assert world.use(body).succeeded
    assert statuses(world, "import") == [503, 200]
    assert imports_into(world, "E-globex") == 1


@pytest.mark.parametrize("fault", [504, "drop"])
def test_export_start_is_retried_even_after_a_lost_answer(world: World, fault: int | str) -> None:
    """A second export only builds another package nobody refers to: harmless."""

    async def body(client: WorkatoClient) -> int:
        manifest = await client.create_manifest("E-template", CRM)
        world.sim.inject_fault("export", fault, processed=True)
        job = await client.start_export("E-template", manifest.id)
        return (await client.wait_export("E-template", job.id)).id

    package_id = world.use(body)
    assert len(statuses(world, "export")) == 2
    assert world.sim.job("E-template", package_id) is not None


def test_a_slow_read_past_the_timeout_is_retried(world: World) -> None:
    world.sim.inject_fault("folder_assets", "slow", delay=1.0)
    assets = world.use(lambda c: c.folder_assets("E-template", 112), request_timeout=0.3)
    assert len(assets) == 3
    assert len(statuses(world, "folder_assets")) == 2


# -- the others: a typed error naming the call ------------------------------------------


@pytest.mark.parametrize("auth", ["bearer", "legacy"])
@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (500, ServerError, "(500): Internal server error"),
        (502, ServerError, "(502): unexpected HTML answer"),
        (504, ServerError, "(504): unexpected HTML answer"),
        ("drop", ConnectionFailedError, ": connection failed: RemoteProtocolError"),
    ],
)
def test_failures_of_a_create_are_not_retried(
    world: World, auth: Auth, fault: int | str, error: type[ApiError], message: str
) -> None:
    """A second create would leave a duplicate manifest: the error is reported instead."""
    world.sim.inject_fault("manifest_create", fault, processed=True)
    with pytest.raises(error) as raised:
        world.use(lambda c: c.create_manifest("E-template", CRM), auth)
    check_message(raised.value, "POST", MANIFESTS)
    assert message in str(raised.value)
    assert len(statuses(world, "manifest_create")) == 1
    assert manifests_named(world, "crm-sync") == 1  # processed once, never twice


@pytest.mark.parametrize(
    ("fault", "error"),
    [(502, ServerError), (504, ServerError), ("drop", ConnectionFailedError), (500, ServerError)],
)
def test_an_import_whose_answer_was_lost_is_not_sent_again(
    world: World, fault: int | str, error: type[ApiError]
) -> None:
    async def body(client: WorkatoClient) -> ImportJob:
        blob = await package(client)
        world.sim.inject_fault("import", fault, processed=True)
        return await import_globex(client, blob)

    with pytest.raises(error) as raised:
        world.use(body)
    check_message(raised.value, "POST", IMPORTS)
    assert len(statuses(world, "import")) == 1
    assert imports_into(world, "E-globex") == 1


def test_a_slow_import_times_out_and_is_not_sent_again(world: World) -> None:
    async def body(client: WorkatoClient) -> ImportJob:
        blob = await package(client)
        world.sim.inject_fault("import", "slow", delay=1.0)
        return await import_globex(client, blob)

    with pytest.raises(ApiTimeoutError) as raised:
        world.use(body, request_timeout=0.3)
    check_message(raised.value, "POST", IMPORTS)
    assert "no answer within 0.3 s" in str(raised.value)
    assert imports_into(world, "E-globex") == 1


@pytest.mark.parametrize(
    ("kind", "fault", "detail"),
    [
        ("manifest_view", "malformed_json", "answer is not JSON"),
        ("folder_assets", "html", "unexpected HTML answer"),
        ("export_status", "wrong_type", "unexpected PackageJob answer: status:"),
        ("import_status", "wrong_type", "unexpected ImportJob answer: status:"),
        ("manifest_view", "wrong_type", "unexpected ManifestView answer: status:"),
    ],
)
def test_answers_that_do_not_parse_are_protocol_errors(
    world: World, kind: str, fault: str, detail: str
) -> None:
    async def body(client: WorkatoClient) -> None:
        manifest = await client.create_manifest("E-template", CRM)
        blob = await package(client)
        job = await client.start_import(
            "E-globex", 2211, blob, restart_recipes=True, include_tags=False,
            folder_id_for_home_assets=None,
        )  # fmt: skip
        world.sim.inject_fault(kind, fault)
        await client.folder_assets("E-template", 112)
        await client.view_manifest("E-template", manifest.id)
        await client.export_status("E-template", job.id - 1)
        await client.import_status("E-globex", job.id)

    with pytest.raises(ProtocolError) as raised:
        world.use(body, "legacy" if fault == "wrong_type" else "bearer")
    assert detail in str(raised.value)
    assert raised.value.method == "GET" and raised.value.path.startswith("/api/managed_users/")
    check_message(raised.value, "GET", raised.value.path)
    assert statuses(world, kind)[-1] == 200  # answered, but not as documented: not retried


def test_an_unknown_import_result_is_shown_verbatim_as_a_failure(world: World) -> None:
    async def body(client: WorkatoClient) -> ImportJob:
        blob = await package(client)
        job = await client.start_import(
            "E-globex", 2211, blob, restart_recipes=True, include_tags=False,
            folder_id_for_home_assets=None,
        )  # fmt: skip
        await client.wait_import("E-globex", job.id)
        world.sim.inject_fault("import_status", "unknown_enum")
        return await client.import_status("E-globex", job.id)

    job = world.use(body)
    assert job.recipe_status[0].import_result == "quantum_entangled"
    assert job.failed_recipes == [job.recipe_status[0]] and not job.succeeded


def test_an_unknown_asset_type_passes_through_with_a_warning(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the warning is given once per type and process: start from a process that gave none
    monkeypatch.setattr(models, "_warned_asset_types", set())
    world.sim.inject_fault("folder_assets", "unknown_enum")
    with caplog.at_level(logging.WARNING, logger="reconciler.workato.models"):
        assets = world.use(lambda c: c.folder_assets("E-template", 112))
    assert assets[0].type == "hologram" and len(assets) == 3
    assert "asset: type=hologram is not known to rlcm; passing it through" in caplog.text


def test_429_that_persists_is_a_rate_limited_error(world: World) -> None:
    """A 429 is waited on, never a failed attempt, until the call's wait budget
    (`rate_limits.max_wait`) is spent: then it is reported, with the call, never the token."""
    world.sim.inject_fault("folder_assets", 429, count=10, retry_after=None)
    in_process = world.mode == "sim"
    settings = ClientSettings(
        base_url=SIM_BASE_URL if in_process else world.base_url,
        token=TOKEN,
        # backoffs of 0.01, 0.02, 0.04, 0.08... s: the fourth would pass 0.1 s in all
        rate_limits=dataclasses.replace(UNLIMITED, max_wait=0.1),
        backoff_base=0.01,
        backoff_max=0.02,
    )
    transport = SimTransport(world.sim.directory) if in_process else None

    async def go() -> None:
        async with WorkatoClient(settings, transport=transport) as client:
            await client.folder_assets("E-template", 112)

    with pytest.raises(RateLimitedError) as raised:
        run(go())
    check_message(raised.value, "GET", f"{MANIFESTS}/folder_assets")
    seen = statuses(world, "folder_assets")
    assert set(seen) == {429} and 3 <= len(seen) <= 5  # the budget, not max_retries (5)


def test_an_unknown_manifest_status_is_kept_as_is(world: World) -> None:
    """Only `archived` means deleted; another status is shown, not guessed at."""

    async def body(client: WorkatoClient) -> ManifestView:
        manifest = await client.create_manifest("E-template", CRM)
        world.sim.inject_fault("manifest_view", "unknown_enum")
        return await client.view_manifest("E-template", manifest.id)

    view = world.use(body)
    assert view.status == "frobnicating" and not view.archived

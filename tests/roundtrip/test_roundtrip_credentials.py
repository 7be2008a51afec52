"""Credentials reach the API's origin and nowhere else.

The package download leaves the API: embedded exports name a `download_url` on the
storage host, and the developer API's download answers 302 to it. The simulator logs
which credential headers each request carried (by name, never by value); its log of the
storage host must show none, in both auth styles, in process and over HTTP.
"""

from __future__ import annotations

import logging
from typing import Literal

import pytest
from roundtrip_world import EMAIL, TOKEN, World

from reconciler.simulator import RequestRecord
from reconciler.workato import auth as auth_module
from reconciler.workato.client import WorkatoClient
from reconciler.workato.models import ManifestBody

CRM = ManifestBody(name="crm-sync", folder_id=112, auto_generate_assets=True)
OWN = ManifestBody(name="integrations", folder_id=510, auto_generate_assets=True)


async def download(client: WorkatoClient, owner: str | None, body: ManifestBody) -> bytes:
    manifest = await client.create_manifest(owner, body)
    done = await client.wait_export(owner, (await client.start_export(owner, manifest.id)).id)
    return await client.download_package(owner, done)


def storage_hits(world: World) -> list[RequestRecord]:
    return [r for r in world.sim.request_log() if r.family == "assets"]


def api_hosts(world: World) -> set[str]:
    return {r.host for r in world.sim.request_log() if r.family in ("embedded", "developer")}


@pytest.mark.parametrize("auth", ["bearer", "legacy"])
def test_embedded_download_sends_no_credentials_to_the_storage_host(
    world: World, auth: Literal["bearer", "legacy"]
) -> None:
    blob = world.use(lambda c: download(c, "E-template", CRM), auth)
    assert blob[:2] == b"PK"
    hits = storage_hits(world)
    assert len(hits) == 1 and hits[0].status == 200
    assert hits[0].credential_headers == () and hits[0].auth == "none"
    assert hits[0].host not in api_hosts(world)  # another origin
    expected = ("authorization",) if auth == "bearer" else ("x-user-email", "x-user-token")
    api_calls = [r for r in world.sim.request_log() if r.family == "embedded"]
    assert {r.credential_headers for r in api_calls} == {expected}


def test_developer_download_redirect_sends_no_credentials_to_the_storage_host(
    world: World,
) -> None:
    blob = world.use(lambda c: download(c, None, OWN))
    assert blob[:2] == b"PK"
    redirect = [r for r in world.sim.request_log() if r.kind == "download"]
    assert [(r.status, r.credential_headers) for r in redirect] == [(302, ("authorization",))]
    hits = storage_hits(world)
    assert [(h.status, h.credential_headers, h.auth) for h in hits] == [(200, (), "none")]
    assert hits[0].host not in api_hosts(world)


def test_legacy_auth_warns_once_and_never_shows_the_credentials(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth_module, "_warned", set())  # a process that has not warned yet
    with caplog.at_level(logging.DEBUG):
        world.use(lambda c: download(c, "E-template", CRM), "legacy")
        world.use(lambda c: c.folder_assets("E-acme-001", 1827), "legacy")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "retired by Workato in 2025" in warnings[0].getMessage()
    assert TOKEN not in caplog.text and EMAIL not in caplog.text
    assert {r.auth for r in world.sim.request_log() if r.family == "embedded"} == {"legacy"}

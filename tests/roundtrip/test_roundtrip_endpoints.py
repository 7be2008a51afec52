"""Every endpoint of the three API families, client against simulator.

Parametrised over the in-process simulator (`sim://DIR`) and real HTTP on 127.0.0.1,
bearer and legacy auth, external (`E...`) and numeric managed-user ids.
"""

from __future__ import annotations

from typing import Literal

import pytest
from roundtrip_world import TOKEN, World

from reconciler.errors import AuthError, NotFoundError, ValidationError
from reconciler.workato.client import WorkatoClient
from reconciler.workato.models import (
    ImportJob,
    ManifestBody,
    ManifestView,
    PackageJob,
    Recipe,
    RecipeAction,
)

Auth = Literal["bearer", "legacy"]


async def _export(client: WorkatoClient, owner: str | None, manifest_id: int) -> bytes:
    started = await client.start_export(owner, manifest_id)
    done = await client.wait_export(owner, started.id)
    assert done.status == "completed", done.error
    return await client.download_package(owner, done)


@pytest.mark.parametrize("auth", ["bearer", "legacy"])
def test_every_embedded_endpoint(world: World, auth: Auth) -> None:
    """folder_assets -> manifest create/view/update -> export -> download -> import -> delete."""

    async def body(client: WorkatoClient) -> tuple[ManifestView, ManifestView, ImportJob]:
        assets = await client.folder_assets("E-template", 110)
        entries = [a.manifest_entry() for a in assets]
        created = await client.create_manifest(
            "E-template", ManifestBody(name="shared", folder_id=110, assets=entries[:2])
        )
        viewed = await client.view_manifest("E-template", created.id)
        assert viewed.assets is not None and len(viewed.assets) == 2
        updated = await client.update_manifest(
            "E-template",
            created.id,
            ManifestBody(name="shared-connections", folder_id=110, assets=entries),
        )
        assert updated.assets is not None and len(updated.assets) == 3
        started = await client.start_export("E-template", created.id)
        assert isinstance(started, PackageJob) and started.status == "in_progress"
        assert started.download_url is None
        status = await client.export_status("E-template", started.id)
        assert status.export_manifest_id == created.id
        package = await _export(client, "E-template", created.id)
        job = await client.start_import(
            "E-globex",
            2211,
            package,
            restart_recipes=True,
            include_tags=False,
            folder_id_for_home_assets=None,
        )
        first = await client.import_status("E-globex", job.id)
        assert first.id == job.id
        imported = await client.wait_import("E-globex", job.id)
        await client.delete_manifest("E-template", created.id)
        archived = await client.view_manifest("E-template", created.id)
        return updated, archived, imported

    updated, archived, imported = world.use(body, auth)
    assert updated.name == "shared-connections" and not updated.archived
    assert archived.archived and archived.status == "archived"
    assert imported.status == "completed" and imported.succeeded
    names = {a["name"] for a in world.sim.folder_assets("E-globex", 2211)}
    assert names == {"Salesforce", "Slack", "Region codes"}
    log = [r for r in world.sim.request_log() if r.family == "embedded"]
    assert {r.auth for r in log} == {auth}
    assert {r.kind for r in log} == {
        "folder_assets",
        "manifest_create",
        "manifest_view",
        "manifest_update",
        "manifest_delete",
        "export",
        "export_status",
        "import",
        "import_status",
    }
    assert all(r.status == 200 for r in log)


@pytest.mark.parametrize(
    ("owner", "folder", "home"),
    [("E-acme-001", 1827, 1830), ("92001", 1827, 1830), ("91928", 77, 78)],
)
def test_both_managed_user_id_styles(world: World, owner: str, folder: int, home: int) -> None:
    """`E` + external id and the numeric id address the same customer workspace."""

    async def body(client: WorkatoClient) -> ImportJob:
        manifest = await client.create_manifest(
            "91000", ManifestBody(name="crm", folder_id=112, auto_generate_assets=True)
        )
        package = await _export(client, "91000", manifest.id)
        job = await client.start_import(
            owner,
            folder,
            package,
            restart_recipes=False,
            include_tags=True,
            folder_id_for_home_assets=home,
        )
        return await client.wait_import(owner, job.id)

    job = world.use(body)
    assert job.succeeded
    assert {"Sync accounts", "Sync contacts"} <= {
        a["name"] for a in world.sim.folder_assets(owner, folder)
    }
    users = {r.user for r in world.sim.request_log() if r.kind in ("import", "import_status")}
    assert users == {owner}


def test_external_ids_are_url_encoded(world: World) -> None:
    """An external id with `/`, space and `%` reaches the right managed user."""
    world.sim.add_managed_user("Eeu/acme 100%", 93001, {4001: "Target"})

    async def body(client: WorkatoClient) -> ImportJob:
        manifest = await client.create_manifest(
            "E-template", ManifestBody(name="billing", folder_id=114, auto_generate_assets=True)
        )
        package = await _export(client, "E-template", manifest.id)
        job = await client.start_import(
            "Eeu/acme 100%",
            4001,
            package,
            restart_recipes=False,
            include_tags=False,
            folder_id_for_home_assets=None,
        )
        return await client.wait_import("Eeu/acme 100%", job.id)

    assert world.use(body).succeeded
    assert len(world.sim.folder_assets(93001, 4001)) == 2
    users = {r.user for r in world.sim.request_log() if r.kind == "import"}
    assert users == {"Eeu/acme 100%"}


def test_developer_api_for_the_own_workspace(world: World) -> None:
    """owner None: /api/export_manifests... and /api/packages/... (download redirects)."""

    async def body(client: WorkatoClient) -> tuple[ImportJob, ManifestView]:
        assets = await client.folder_assets(None, 510)
        assert {a.name for a in assets} == {"Salesforce", "Nightly export"}
        manifest = await client.create_manifest(
            None,
            ManifestBody(
                name="integrations",
                folder_id=510,
                assets=[a.manifest_entry() for a in assets],
                include_tags=True,
            ),
        )
        await client.update_manifest(
            None,
            manifest.id,
            ManifestBody(name="integrations-v2", folder_id=510, auto_generate_assets=True),
        )
        package = await _export(client, None, manifest.id)
        job = await client.start_import(
            None,
            610,
            package,
            restart_recipes=True,
            include_tags=True,
            folder_id_for_home_assets=None,
        )
        imported = await client.wait_import(None, job.id)
        await client.delete_manifest(None, manifest.id)
        return imported, await client.view_manifest(None, manifest.id)

    imported, archived = world.use(body)
    assert imported.succeeded
    # the developer API answers with the OpenAPI spelling of the success value
    assert {r.import_result for r in imported.recipe_status} == {
        "no_update_or_updated_without_restart"
    }
    assert archived.archived and archived.name == "integrations-v2"
    staged = {(a["type"], a["name"], a["version"]) for a in world.sim.folder_assets(None, 610)}
    assert staged == {("connection", "Salesforce", None), ("recipe", "Nightly export", 2)}
    log = world.sim.request_log()
    assert {r.family for r in log} == {"developer", "assets"}
    assert [r.status for r in log if r.kind == "download"] == [302]
    assert [r.status for r in log if r.kind == "manifest_create"] == [201]


def test_a_wrong_token_is_an_auth_error_without_the_token(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKATO_API_TOKEN", "wrong-secret-4711")
    with pytest.raises(AuthError) as raised:
        world.use(lambda c: c.folder_assets("E-template", 110))
    text = str(raised.value)
    assert text == (
        "GET /api/managed_users/E-template/export_manifests/folder_assets (401): Unauthorized"
    )
    assert "wrong-secret-4711" not in text and TOKEN not in text


def test_legacy_auth_is_refused_by_the_developer_api(world: World) -> None:
    with pytest.raises(AuthError, match=r"^GET /api/export_manifests/folder_assets \(401\)"):
        world.use(lambda c: c.folder_assets(None, 510), "legacy")


def test_unknown_ids_are_not_found(world: World) -> None:
    with pytest.raises(NotFoundError, match=r"/api/managed_users/E-nobody/exports/5 \(404\)"):
        world.use(lambda c: c.export_status("E-nobody", 5))
    with pytest.raises(NotFoundError, match=r"GET /api/export_manifests/999999 \(404\)"):
        world.use(lambda c: c.view_manifest(None, 999999))


def test_validation_errors_carry_the_field_messages(world: World) -> None:
    body = ManifestBody(name="broken", folder_id=999, auto_generate_assets=True)
    with pytest.raises(ValidationError) as embedded:
        world.use(lambda c: c.create_manifest("E-template", body))
    assert embedded.value.status == 422
    assert embedded.value.field_errors == {"folder_id": ["folder 999 not found"]}
    assert str(embedded.value).endswith("Validation failed [folder_id: folder 999 not found]")
    with pytest.raises(ValidationError) as developer:
        world.use(lambda c: c.create_manifest(None, body))
    assert developer.value.status == 400  # the developer API's OpenAPI says 400


@pytest.mark.parametrize("auth", ["bearer", "legacy"])
def test_every_recipes_api_endpoint(world: World, auth: Auth) -> None:
    """Recipes API: list (every page), get, start (refused, then done), stop; developer too."""
    world.sim.set_connection_authorized("E-template", "Salesforce", False)
    recipe_id = int(world.sim.asset("E-template", "Sync accounts")["id"])

    Answers = tuple[list[Recipe], Recipe, RecipeAction, RecipeAction, RecipeAction, list[Recipe]]

    async def body(client: WorkatoClient) -> Answers:
        listed = await client.list_recipes("E-template", folder_id=112)
        one = await client.get_recipe("E-template", recipe_id)
        refused = await client.start_recipe("E-template", recipe_id)
        world.sim.set_connection_authorized("E-template", "Salesforce", True)
        started = await client.start_recipe("E-template", recipe_id)
        stopped = await client.stop_recipe("E-template", recipe_id)
        own = await client.list_recipes(None, folder_id=510) if auth == "bearer" else []
        return listed, one, refused, started, stopped, own

    listed, one, refused, started, stopped, own = world.use(body, auth)
    assert {r.name for r in listed} == {"Sync accounts", "Sync contacts"}
    assert one.version_no == 4
    assert not refused.success
    assert refused.reasons == ["Salesforce: connection is not authorized"]
    assert started.success and stopped.success
    assert world.sim.recipe_running("E-template", "Sync accounts") is False
    kinds = {(r.kind, r.auth) for r in world.sim.request_log() if r.family == "embedded"}
    assert kinds == {
        ("recipes_list", auth), ("recipe_view", auth), ("recipe_start", auth),
        ("recipe_stop", auth),
    }  # fmt: skip
    if auth == "bearer":  # the developer API has bearer auth only
        assert [r.name for r in own] == ["Nightly export"]

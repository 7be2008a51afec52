"""The whole RLCM flow through the client, checked against what the simulator then holds."""

from __future__ import annotations

import pytest
from roundtrip_world import World

from reconciler.workato.client import WorkatoClient
from reconciler.workato.models import (
    IMPORT_RESULT_FAILURES,
    IMPORT_RESULT_SUCCESSES,
    ImportJob,
    ManifestBody,
)


async def crm_package(client: WorkatoClient) -> bytes:
    """A manifest of everything folder_assets lists in folder 112 of E-template, exported."""
    assets = await client.folder_assets("E-template", 112)
    manifest = await client.create_manifest(
        "E-template",
        ManifestBody(
            name="crm-sync",
            folder_id=112,
            include_tags=True,
            assets=[a.manifest_entry() for a in assets],
        ),
    )
    started = await client.start_export("E-template", manifest.id)
    done = await client.wait_export("E-template", started.id)
    assert done.status == "completed" and done.download_url
    return await client.download_package("E-template", done)


async def import_into(
    client: WorkatoClient,
    owner: str,
    folder_id: int,
    package: bytes,
    *,
    restart: bool = True,
    home: int | None = None,
) -> ImportJob:
    job = await client.start_import(
        owner,
        folder_id,
        package,
        restart_recipes=restart,
        include_tags=True,
        folder_id_for_home_assets=home,
    )
    return await client.wait_import(owner, job.id)


def test_full_flow_into_acme(world: World) -> None:
    async def body(client: WorkatoClient) -> ImportJob:
        package = await crm_package(client)
        return await import_into(client, "E-acme-001", 1827, package, home=1830)

    job = world.use(body)
    assert job.status == "completed" and job.succeeded
    assert job.error is None
    assert [r.import_result for r in job.recipe_status] == [
        "no_update_or_update_without_restart"
    ] * 2
    held = {
        (a["type"], a["name"], a["version"], a["folder"])
        for a in world.sim.folder_assets("E-acme-001", 1827)
    }
    # versions are carried from the template; the subfolder is mirrored from the zip path
    assert held == {
        ("recipe", "Sync accounts", 4, ""),
        ("recipe", "Sync contacts", 2, ""),
        ("lookup_table", "Account mappings", 1, "Mappings"),
    }
    # recipe ids are new in the target workspace, and the status names them
    template_ids = {a["id"] for a in world.sim.folder_assets("E-template", 112)}
    target_recipes = {
        a["id"] for a in world.sim.folder_assets("E-acme-001", 1827) if a["type"] == "recipe"
    }
    assert {r.id for r in job.recipe_status} == target_recipes
    assert not target_recipes & template_ids


def test_connections_land_in_the_home_assets_folder(world: World) -> None:
    async def body(client: WorkatoClient) -> ImportJob:
        manifest = await client.create_manifest(
            "E-template",
            ManifestBody(name="shared-connections", folder_id=110, auto_generate_assets=True),
        )
        done = await client.wait_export(
            "E-template", (await client.start_export("E-template", manifest.id)).id
        )
        package = await client.download_package("E-template", done)
        return await import_into(client, "E-acme-001", 1827, package, home=1830)

    assert world.use(body).succeeded
    home = {(a["type"], a["name"]) for a in world.sim.folder_assets("E-acme-001", 1830)}
    target = {(a["type"], a["name"]) for a in world.sim.folder_assets("E-acme-001", 1827)}
    assert home == {("connection", "Salesforce"), ("connection", "Slack")}
    assert target == {("lookup_table", "Region codes")}


def test_a_running_recipe_fails_the_import_unless_restart_recipes(world: World) -> None:
    """E-umbrella runs an older "Sync accounts" in folder 2401 (the demo's deliberate failure)."""

    async def body(client: WorkatoClient) -> tuple[ImportJob, ImportJob]:
        package = await crm_package(client)
        refused = await import_into(client, "E-umbrella", 2401, package, restart=False)
        restarted = await import_into(client, "E-umbrella", 2401, package, restart=True)
        return refused, restarted

    refused, restarted = world.use(body)
    assert refused.status == "failed" and not refused.succeeded
    assert refused.error and "Sync accounts" in refused.error
    assert "restart_recipes" in refused.error
    results = {r.id: r.import_result for r in restarted.recipe_status}
    sync_accounts = world.sim.asset("E-umbrella", "Sync accounts", folder_id=2401)
    assert restarted.succeeded
    assert results[sync_accounts["id"]] == "restarted"
    assert sorted(results.values()) == ["no_update_or_update_without_restart", "restarted"]
    assert sync_accounts["version"] == 4 and sync_accounts["running"]


@pytest.mark.parametrize(
    "result", sorted(IMPORT_RESULT_FAILURES | {"no_update_or_update_without_restart", "restarted"})
)
def test_every_import_result_is_reachable(world: World, result: str) -> None:
    world.sim.fail_next_import("E-globex", 2211, [result])

    async def body(client: WorkatoClient) -> ImportJob:
        return await import_into(client, "E-globex", 2211, await crm_package(client))

    job = world.use(body)
    first = job.recipe_status[0]
    assert first.import_result == result
    if result in IMPORT_RESULT_SUCCESSES:
        assert job.status == "completed" and job.succeeded
        assert len(job.recipe_status) == 2
    else:
        assert job.status == "failed" and not job.succeeded
        assert job.failed_recipes == [first]
        assert job.error and "could not be updated or restarted" in job.error
        # a failed import may list only some recipes
        assert len(job.recipe_status) == 1


def test_a_pinned_older_version_is_what_the_target_receives(world: World) -> None:
    async def body(client: WorkatoClient) -> ImportJob:
        assets = await client.folder_assets("E-template", 112)
        entries = [
            {**a.manifest_entry(), "version": 3}
            if a.name == "Sync accounts"
            else a.manifest_entry()
            for a in assets
        ]
        manifest = await client.create_manifest(
            "E-template", ManifestBody(name="crm-sync", folder_id=112, assets=entries)
        )
        view = await client.view_manifest("E-template", manifest.id)
        assert view.assets is not None
        assert {a.name: a.version for a in view.assets}["Sync accounts"] == 3
        done = await client.wait_export(
            "E-template", (await client.start_export("E-template", manifest.id)).id
        )
        package = await client.download_package("E-template", done)
        return await import_into(client, "E-hooli", 2501, package)

    assert world.use(body).succeeded
    versions = {a["name"]: a["version"] for a in world.sim.folder_assets("E-hooli", 2501)}
    assert versions == {"Sync accounts": 3, "Sync contacts": 2, "Account mappings": 1}

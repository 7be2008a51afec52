"""Documented refusals and failures, as the client reports them to a user."""

from __future__ import annotations

from dataclasses import replace

import pytest
from roundtrip_world import POLL, TOKEN, World, run

from reconciler.cli.connect import open_client
from reconciler.config.desired import PollSettings
from reconciler.errors import ApiTimeoutError, NotFoundError, PackageError, ValidationError
from reconciler.workato.client import WorkatoClient
from reconciler.workato.models import ImportJob, ManifestBody, PackageJob

AUTO = ManifestBody(name="billing", folder_id=114, auto_generate_assets=True)


async def exported(client: WorkatoClient, owner: str | None, body: ManifestBody) -> PackageJob:
    manifest = await client.create_manifest(owner, body)
    return await client.wait_export(owner, (await client.start_export(owner, manifest.id)).id)


def test_a_failed_embedded_export_has_no_package(world: World) -> None:
    world.sim.fail_next_export("E-template", "Asset Sync accounts is locked")

    async def body(client: WorkatoClient) -> PackageJob:
        job = await exported(client, "E-template", AUTO)
        with pytest.raises(PackageError, match=r"has no download URL yet \(status failed\)"):
            await client.download_package("E-template", job)
        return job

    job = world.use(body)
    assert job.status == "failed" and job.error == "Asset Sync accounts is locked"
    assert job.download_url is None  # the string "null" of the 2019 document


def test_a_failed_developer_export_cannot_be_downloaded(world: World) -> None:
    world.sim.fail_next_export(None)
    own = ManifestBody(name="integrations", folder_id=510, auto_generate_assets=True)

    async def body(client: WorkatoClient) -> PackageJob:
        job = await exported(client, None, own)
        with pytest.raises(NotFoundError, match=rf"^GET /api/packages/{job.id}/download \(404\)"):
            await client.download_package(None, job)
        return job

    assert world.use(body).status == "failed"


def test_an_export_of_an_archived_manifest_fails(world: World) -> None:
    async def body(client: WorkatoClient) -> PackageJob:
        manifest = await client.create_manifest("E-template", AUTO)
        await client.delete_manifest("E-template", manifest.id)
        await client.delete_manifest("E-template", manifest.id)  # again: nothing more happens
        with pytest.raises(ValidationError, match="export manifest is archived"):
            await client.update_manifest("E-template", manifest.id, AUTO)
        started = await client.start_export("E-template", manifest.id)
        return await client.wait_export("E-template", started.id)

    job = world.use(body)
    assert job.status == "failed" and job.error == "Export manifest is archived"


def test_home_assets_project_needs_folder_id_for_home_assets(world: World) -> None:
    """A package with root-folder assets into a workspace whose Home assets is a project."""
    world.sim.set_home_assets_project("E-initech")

    async def body(client: WorkatoClient) -> ImportJob:
        crm = await client.folder_assets("E-template", 112)
        shared = await client.folder_assets("E-template", 110)
        salesforce = [a for a in shared if a.name == "Salesforce"]
        entries = [a.manifest_entry() for a in [*crm, *salesforce]]
        manifest = ManifestBody(name="crm-sync", folder_id=112, assets=entries)
        job = await exported(client, "E-template", manifest)
        blob = await client.download_package("E-template", job)
        with pytest.raises(ValidationError) as refused:
            await client.start_import(
                "E-initech", 2301, blob, restart_recipes=True, include_tags=False,
                folder_id_for_home_assets=None,
            )  # fmt: skip
        assert refused.value.status == 422
        assert list(refused.value.field_errors) == ["folder_id_for_home_assets"]
        assert str(refused.value).startswith("POST /api/managed_users/E-initech/imports (422)")
        started = await client.start_import(
            "E-initech", 2301, blob, restart_recipes=True, include_tags=False,
            folder_id_for_home_assets=2301,
        )  # fmt: skip
        return await client.wait_import("E-initech", started.id)

    assert world.use(body).succeeded


def test_a_job_that_never_finishes_gives_a_clear_timeout(world: World) -> None:
    world.sim.set_job_timing(duration=3600, polls=10_000)
    poll = PollSettings(interval=POLL.interval, max_interval=POLL.max_interval, timeout=0.3)
    workspace = world.workspace()

    async def body() -> None:
        async with open_client(replace(workspace, poll=poll)) as client:
            manifest = await client.create_manifest("E-template", AUTO)
            started = await client.start_export("E-template", manifest.id)
            with pytest.raises(ApiTimeoutError) as raised:
                await client.wait_export("E-template", started.id)
            assert str(raised.value) == (
                f"GET /api/managed_users/E-template/exports/{started.id}: "
                f"export {started.id} did not finish within 0.3 s"
            )
            assert TOKEN not in str(raised.value)

    run(body())

"""Every sample request and response of the three Workato documents, replayed.

The cassettes in cassettes/ were written by hand from the documents, quirks included.
vcrpy intercepts the client's real HTTP transport (record_mode "none": nothing leaves
the machine, and an unexpected request fails). Requests must match on method, URL,
query, which credential headers were sent, the Accept header where the recording states
one (downloads), and the JSON (or zip) body.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import zipfile
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import vcr

from reconciler.errors import NotFoundError, ProtocolError
from reconciler.workato.auth import CREDENTIAL_HEADERS
from reconciler.workato.client import WorkatoClient
from reconciler.workato.models import ManifestBody, PackageJob

CASSETTES = Path(__file__).parent / "cassettes"
# the zip recorded in the cassettes (one recipe file)
PACKAGE = base64.b64decode(
    "UEsDBBQAAAAAAEBad13SA9tjJwAAACcAAAAkAAAAZXhwb3J0ZGVtby9zeW5jX2FjY291bnRzLnJlY2lwZS5qc29ueyJu"
    "YW1lIjogIlN5bmMgYWNjb3VudHMiLCAidmVyc2lvbiI6IDR9UEsBAhQDFAAAAAAAQFp3XdID22MnAAAAJwAAACQAAAAA"
    "AAAAAAAAAIABAAAAAGV4cG9ydGRlbW8vc3luY19hY2NvdW50cy5yZWNpcGUuanNvblBLBQYAAAAAAQABAFIAAABpAAAA"
    "AAA="
)
MakeClient = Callable[..., WorkatoClient]
T = TypeVar("T")
MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "credentials", "accept", "body")


def _credential_names(request: Any) -> set[str]:
    return {name.lower() for name in request.headers} & CREDENTIAL_HEADERS


def credentials(r1: Any, r2: Any) -> None:
    """The same credential headers by name (values are placeholders in the documents)."""
    assert _credential_names(r1) == _credential_names(r2)


def accept(r1: Any, r2: Any) -> None:
    """Where a recording states the request's Accept (the downloads), the same one."""
    recorded = {k.lower(): v for k, v in r2.headers.items()}.get("accept")
    if recorded is not None:
        assert {k.lower(): v for k, v in r1.headers.items()}.get("accept") == recorded


def body(r1: Any, r2: Any) -> None:
    """Equal JSON when the recorded body is JSON; equal bytes otherwise."""
    if r2.body is None:
        assert not r1.body
        return
    try:
        expected = json.loads(r2.body)
    except ValueError:
        assert r1.body == r2.body
        return
    assert json.loads(r1.body) == expected


def replay(
    name: str,
    make_client: MakeClient,
    scenario: Callable[[WorkatoClient], Awaitable[T]],
    **settings: Any,
) -> T:
    """Run `scenario` against the cassette `name`; every interaction must be played."""
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=MATCH_ON,
    )
    recorder.register_matcher("credentials", credentials)
    recorder.register_matcher("accept", accept)
    recorder.register_matcher("body", body)

    async def run() -> T:
        async with make_client(**settings) as client:
            return await scenario(client)

    with recorder.use_cassette(f"{name}.yaml") as cassette:
        result = asyncio.run(run())
        assert cassette.all_played, f"{name}: not every documented sample was requested"
    return result


def recorded_manifest(name: str, index: int) -> ManifestBody:
    """The export_manifest payload of a documented sample request, as a ManifestBody."""
    import yaml

    cassette = yaml.safe_load((CASSETTES / f"{name}.yaml").read_text())
    payload = json.loads(cassette["interactions"][index]["request"]["body"])
    return ManifestBody(**payload["export_manifest"])


# ---- embedded: manifests ------------------------------------------------------------


def test_folder_assets_sample_parses_into_assets(make_client: MakeClient) -> None:
    assets = replay("embedded_folder_assets", make_client, lambda c: c.folder_assets("91928", 423))
    assert len(assets) == 1
    asset = assets[0]
    assert (asset.id, asset.type, asset.name, asset.version) == (
        12,
        "recipe",
        "Copy of Recipeops",
        1,
    )
    assert asset.absolute_path == "All projects"
    assert asset.zip_name == "copy_of_recipeops.recipe.json"
    assert asset.checked and not asset.root_folder and not asset.unreachable


def test_create_manifest_samples_send_wrapped_bodies(make_client: MakeClient) -> None:
    async def scenario(client: WorkatoClient) -> list[Any]:
        # the first sample's asset is exactly what folder_assets answered: send it back as is
        asset = {
            "id": 12, "name": "Copy of Recipeops", "type": "recipe", "version": 1, "folder": "",
            "absolute_path": "All projects", "root_folder": False, "unreachable": False,
            "zip_name": "copy_of_recipeops.recipe.json", "checked": True,
        }  # fmt: skip
        first = ManifestBody(name="Test Manifest", assets=[asset], folder_id=112, include_tags=True)
        two = recorded_manifest("embedded_create_manifest", 1)
        auto = ManifestBody(
            name="Test Manifest", folder_id=112, auto_generate_assets=True,
            include_test_cases=True, include_data=True, auto_run=True,
        )  # fmt: skip
        return [
            await client.create_manifest("91928", first),
            await client.create_manifest("45267", two),
            await client.create_manifest("91928", auto),
        ]

    views = replay("embedded_create_manifest", make_client, scenario)
    assert [v.id for v in views] == [12, 267546, 12]
    assert views[1].status == "working" and views[1].include_tags is True
    assert views[1].project_path == "Home assets" and views[1].assets is None
    assert views[0].include_tags is None and not views[0].archived


def test_update_manifest_samples_keep_assets_when_the_view_has_them(
    make_client: MakeClient,
) -> None:
    async def scenario(client: WorkatoClient) -> list[Any]:
        return [
            await client.update_manifest(
                "91928", 12, recorded_manifest("embedded_update_manifest", 0)
            ),
            await client.update_manifest(
                "91928", 15, recorded_manifest("embedded_update_manifest", 1)
            ),
            await client.update_manifest(
                "91928", 12, recorded_manifest("embedded_update_manifest", 2)
            ),
        ]

    views = replay("embedded_update_manifest", make_client, scenario)
    assert views[0].assets is None and views[2].assets is None
    with_assets = views[1]
    assert with_assets.id == 171350 and with_assets.assets is not None
    assert [(a.type, a.name, a.version) for a in with_assets.assets] == [
        ("connection", "Outreach", None),
        ("recipe", "Test recipe", 4),
    ]
    # fields the model does not name are kept, so the asset can be sent back unchanged
    assert with_assets.assets[1].extra == {"include_test_cases": False, "deps": []}
    assert with_assets.assets[1].manifest_entry()["deps"] == []


def test_view_manifest_sample(make_client: MakeClient) -> None:
    view = replay("embedded_view_manifest", make_client, lambda c: c.view_manifest("91928", 12))
    assert (view.id, view.name, view.status, view.project_path) == (
        12,
        "Test Manifest",
        "working",
        "Folder 1",
    )
    assert view.assets is None and view.last_exported_at is None
    assert view.created_at == "2023-02-27T02:44:59.447-08:00"


def test_delete_manifest_sample_answers_destroyed(make_client: MakeClient) -> None:
    assert (
        replay("embedded_delete_manifest", make_client, lambda c: c.delete_manifest("12345", 12))
        is None
    )


# ---- embedded: exports and imports -----------------------------------------------


def test_export_samples_and_download_without_credentials(make_client: MakeClient) -> None:
    async def scenario(client: WorkatoClient) -> tuple[Any, Any, bytes]:
        started = await client.start_export("91829", 508)
        finished = await client.export_status("91829", 370)
        return started, finished, await client.download_package("91829", finished)

    started, finished, data = replay("embedded_exports", make_client, scenario)
    assert (started.id, started.status, started.export_manifest_id) == (365, "in_progress", 508)
    assert started.download_url is None and not started.done
    assert finished.status == "completed" and finished.export_manifest_id == 513
    assert (
        finished.download_url is not None and "workato-staging-assets.com" in finished.download_url
    )
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["exportdemo/sync_accounts.recipe.json"]


def test_import_samples_ignore_operation_type_and_judge_each_recipe(
    make_client: MakeClient,
) -> None:
    scenario = _import_then_two_statuses(include_tags=True)

    started, completed, failed = replay("embedded_imports", make_client, scenario)
    assert (started.id, started.status) == (251, "completed") and started.recipe_status == []
    # operation_type says "export" on an import status: it is not relied upon
    assert completed.status == "completed" and completed.operation_type == "export"
    assert [(r.id, r.succeeded) for r in completed.recipe_status] == [
        (12345, True), (12346, True), (12347, False),
    ]  # fmt: skip
    assert not completed.succeeded  # a "stopped" recipe fails the import
    assert [r.import_result for r in completed.failed_recipes] == ["stopped"]
    assert failed.status == "failed" and failed.error == "error_message"
    assert len(failed.recipe_status) == 3


# ---- developer API (own workspace) ------------------------------------------------


def test_developer_api_package_samples(make_client: MakeClient) -> None:
    async def scenario(client: WorkatoClient) -> list[Any]:
        exported = await client.start_export(None, 3)
        imported = await client.start_import(
            None, 2617, PACKAGE, restart_recipes=True, include_tags=False,
            folder_id_for_home_assets=None,
        )  # fmt: skip
        by_id = await client.export_status(None, 242)
        with pytest.raises(ProtocolError) as broken:
            await client.export_status(None, 245)  # the document's JSON misses a comma
        failed = await client.export_status(None, 245)
        return [exported, imported, by_id, broken.value, failed]

    exported, imported, by_id, broken, failed = replay("developer_packages", make_client, scenario)
    assert exported.status == "completed" and exported.export_manifest_id == 3
    assert imported.id == 251 and imported.status == "completed"
    assert by_id.download_url is not None
    assert "GET /api/packages/245" in str(broken) and "not JSON" in str(broken)
    assert failed.status == "failed" and failed.error == "error_message"
    assert failed.download_url is None  # the string "null"


def test_developer_api_download_redirects_to_storage_without_credentials(
    make_client: MakeClient,
) -> None:
    async def scenario(client: WorkatoClient) -> tuple[bytes, Exception]:
        data = await client.download_package(None, PackageJob(id=242, status="completed"))
        with pytest.raises(NotFoundError) as missing:
            await client.download_package(None, PackageJob(id=999, status="completed"))
        return data, missing.value

    data, missing = replay("developer_download", make_client, scenario)
    assert data == PACKAGE
    assert "GET /api/packages/999/download (404): Not found" in str(missing)


# ---- legacy OEM auth --------------------------------------------------------------


def test_legacy_oem_samples_send_user_headers_and_warn_once(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    import reconciler.workato.auth as auth

    auth._warned.discard("legacy")  # the warning is once per process; this test wants to see it

    scenario = _import_then_two_statuses(include_tags=False)

    with caplog.at_level(logging.WARNING):
        started, completed, failed = replay(
            "oem_legacy_imports", make_client, scenario, auth="legacy", email="ops@partner.example"
        )
        replay(
            "oem_legacy_imports", make_client, scenario, auth="legacy", email="ops@partner.example"
        )
    assert started.id == 251
    assert completed.status == "completed" and completed.succeeded
    assert failed.status == "failed" and failed.error == "error_message" and not failed.succeeded
    retired = [r for r in caplog.records if "retired" in r.getMessage()]
    assert len(retired) == 1
    assert "secret-token-123" not in caplog.text and "ops@partner.example" not in caplog.text


def _import_then_two_statuses(
    *, include_tags: bool
) -> Callable[[WorkatoClient], Coroutine[Any, Any, list[Any]]]:
    """The embedded import samples: one POST, then the completed and the failed status."""

    async def scenario(client: WorkatoClient) -> list[Any]:
        started = await client.start_import(
            "91928", 1827, PACKAGE, restart_recipes=False, include_tags=include_tags,
            folder_id_for_home_assets=None,
        )  # fmt: skip
        return [
            started,
            await client.import_status("91829", 198),
            await client.import_status("91829", 198),
        ]

    return scenario


# ---- the Recipes API ----------------------------------------------------------------


def test_embedded_recipe_samples_list_get_start_stop(make_client: MakeClient) -> None:
    async def scenario(client: WorkatoClient) -> tuple[Any, ...]:
        listed = await client.list_recipes("91829", folder_id=4289)
        one = await client.get_recipe("91829", 41354)
        started = await client.start_recipe("91829", 41354)
        refused = await client.start_recipe("91829", 41321)
        stopped = await client.stop_recipe("91829", 41354)
        return listed, one, started, refused, stopped

    listed, one, started, refused, stopped = replay("embedded_recipes", make_client, scenario)
    assert [(r.id, r.running, r.version_no) for r in listed] == [
        (41354, False, 3),
        (41321, True, 1),
    ]
    first = listed[0]
    assert (first.stop_cause, first.job_failed_count, first.job_succeeded_count) == (
        "trigger_errors_limit",
        2,
        7,
    )
    assert listed[1].job_succeeded_count == 0  # null reads as none
    assert one.stop_cause == "trigger_errors_limit" and one.folder_id == 4289
    assert started.success and stopped.success
    assert not refused.success
    assert refused.reasons == [
        "Salesforce connection is not authorized",
        "2: sobject: can't be blank",
    ]


def test_developer_recipe_samples_items_and_bare(make_client: MakeClient) -> None:
    async def scenario(client: WorkatoClient) -> tuple[Any, Any]:
        return await client.list_recipes(None), await client.list_recipes(None, folder_id=241557)

    items, bare = replay("developer_recipes", make_client, scenario)
    assert [(r.id, r.version_no, r.running) for r in items] == [(1913515, 3, False)]
    assert [(r.id, r.version_no, r.running) for r in bare] == [(1913515, 4, True)]


# ---- where Workato's sources disagree (SPEC) ------------------------------------------

ODD = "Eacme emea/01@eu ü"  # spaces, a slash, an @, a non-ASCII letter


def test_openapi_dialect_samples_parse_on_the_cn_data_center(
    make_client: MakeClient, fake_time: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from reconciler.facts import DATA_CENTERS
    from reconciler.workato.download import DOWNLOAD_ACCEPT

    async def scenario(client: WorkatoClient) -> tuple[Any, bytes, Any, Any]:
        export = await client.wait_export(ODD, 370)  # "processing", then completed
        data = await client.download_package(ODD, export)
        imported = await client.wait_import(ODD, 251)  # "processing", then completed
        return export, data, imported, await client.folder_assets(ODD, 423)

    with caplog.at_level("WARNING"):
        export, data, imported, assets = replay(
            "openapi_dialects", make_client, scenario, base_url=DATA_CENTERS["cn"]
        )
    assert export.status == "completed" and export.export_manifest_id == 513
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["exportdemo/sync_accounts.recipe.json"]
    assert "application/octet-stream" in DOWNLOAD_ACCEPT
    # entries without an id are named by their place in the answer, never rejected
    assert [(r.id, r.position, r.succeeded) for r in imported.recipe_status] == [
        (None, 1, True), (None, 2, True), (12347, 3, False),
    ]  # fmt: skip
    assert [r.import_result for r in imported.failed_recipes] == ["stopped"]
    # folder_assets' status and unknown fields are kept, and not sent back in a manifest
    assert assets[0].extra["status"] == "added" and assets[0].extra["dependency_count"] == 2
    assert "status" not in assets[0].manifest_entry()
    assert assets[0].manifest_entry()["uuid"] == "3f2a"
    assert not [r for r in caplog.records if "processing" in r.getMessage()]  # known: no warning

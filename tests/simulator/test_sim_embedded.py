"""The embedded family in process: manifests, exports, imports, quirks and auth."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest
from sim_world import MU

from reconciler.simulator import Simulator
from reconciler.simulator.transport import SimTransport

pytestmark = pytest.mark.anyio
LEGACY = {"x-user-email": "ops@partner.example", "x-user-token": "demo-token"}


async def _assets(client: httpx.AsyncClient, user: str, folder: int) -> list[dict[str, object]]:
    r = await client.get(
        f"{MU}/{user}/export_manifests/folder_assets", params={"folder_id": folder}
    )
    assert r.status_code == 200
    return list(r.json()["result"]["assets"])


async def _export(client: httpx.AsyncClient, user: str, manifest_id: int) -> bytes:
    started = (await client.post(f"{MU}/{user}/exports/{manifest_id}")).json()
    assert started["status"] == "in_progress" and started["download_url"] is None
    done = (await client.get(f"{MU}/{user}/exports/{started['id']}")).json()
    assert done["status"] == "completed"
    url = done["download_url"]
    assert url.startswith("http://assets.workato.sim/")
    async with httpx.AsyncClient(transport=client._transport) as bare:  # no credentials
        blob = (await bare.get(url)).content
    return blob


async def _manifest(
    client: httpx.AsyncClient, name: str, folder: int, assets: list[dict[str, object]] | None = None
) -> int:
    body: dict[str, object] = {"name": name, "folder_id": folder}
    if assets is None:
        body["auto_generate_assets"] = True
    else:
        body["assets"] = assets
    r = await client.post(f"{MU}/E-template/export_manifests", json={"export_manifest": body})
    assert r.status_code == 200
    return int(r.json()["result"]["id"])


async def _import(
    client: httpx.AsyncClient, user: str, blob: bytes, **params: str | int
) -> dict[str, object]:
    r = await client.post(
        f"{MU}/{user}/imports",
        params=params,
        content=blob,
        headers={"content-type": "application/octet-stream"},
    )
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    status = await client.get(f"{MU}/{user}/imports/{r.json()['id']}")
    return dict(status.json())


def _recipes(status: dict[str, object]) -> list[dict[str, object]]:
    """The import status's `recipe_status` list."""
    recipes = status["recipe_status"]
    assert isinstance(recipes, list), status
    return recipes


async def test_folder_assets_mirror_subfolders(client: httpx.AsyncClient) -> None:
    assets = {a["name"]: a for a in await _assets(client, "E-template", 112)}
    assert assets["Sync accounts"]["version"] == 4
    assert assets["Account mappings"]["zip_name"] == "Mappings/account_mappings.lookup_table.json"
    assert assets["Account mappings"]["folder"] == "Mappings"
    misprint = await client.get(f"{MU}/E-template/export_manifests", params={"folder_id": 112})
    assert (
        misprint.json()["result"]["assets"] == list(assets.values())
        or len(misprint.json()["result"]["assets"]) == 3
    )


async def test_manifest_lifecycle_and_archive(client: httpx.AsyncClient, sim: Simulator) -> None:
    assets = await _assets(client, "E-template", 110)
    manifest_id = await _manifest(client, "shared", 110, assets)
    view = (await client.get(f"{MU}/E-template/export_manifests/{manifest_id}")).json()["result"]
    assert view["status"] == "working" and len(view["assets"]) == 3
    for method in ("PUT", "POST"):
        r = await client.request(
            method,
            f"{MU}/E-template/export_manifests/{manifest_id}",
            json={"export_manifest": {"name": f"shared-{method}", "assets": assets[:1]}},
        )
        assert r.status_code == 200 and r.json()["result"]["name"] == f"shared-{method}"
    deleted = await client.delete(f"/managed_users/E-template/api/export_manifests/{manifest_id}")
    assert deleted.json() == {"result": {"success": True, "status": "destroyed"}}
    view = (await client.get(f"{MU}/91000/export_manifests/{manifest_id}")).json()["result"]
    assert view["status"] == "archived" and view["deleted_at"]


async def test_errors_have_documented_shapes(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{MU}/E-template/export_manifests/999999")
    assert (r.status_code, r.json()) == (404, {"message": "Not found"})
    r = await client.get(f"{MU}/E-nobody/export_manifests/folder_assets")
    assert r.status_code == 404
    r = await client.post(
        f"{MU}/E-template/export_manifests",
        json={"export_manifest": {"folder_id": 110, "assets": []}},
    )
    assert r.status_code == 422 and r.json()["errors"]["name"]
    r = await client.post(
        f"{MU}/E-acme-001/imports", params={"folder_id": 1827}, content=b"not a zip"
    )
    assert r.status_code == 400 and "error" in r.json()
    r = await client.post(
        f"{MU}/E-acme-001/imports",
        params={"folder_id": 1827},
        content=b"0" * (100 * 1024 * 1024 + 1),  # the import guide's cap
    )
    assert r.status_code == 422


async def test_auth_styles_and_log_never_holds_values(sim: Simulator) -> None:
    transport = SimTransport(sim.directory)
    async with httpx.AsyncClient(transport=transport, base_url="http://workato.sim") as c:
        assert (await c.get(f"{MU}/E-template/export_manifests/folder_assets")).json() == {
            "message": "Unauthorized"
        }
        bad = await c.get(
            f"{MU}/E-template/export_manifests/folder_assets",
            headers={"Authorization": "Bearer nope"},
        )
        assert bad.status_code == 401
        ok = await c.get(f"{MU}/E-template/export_manifests/folder_assets", headers=LEGACY)
        assert ok.status_code == 200
        dev = await c.get("/api/export_manifests/folder_assets", headers=LEGACY)
        assert dev.status_code == 401  # legacy headers only on managed-user paths
    log = sim.request_log()
    assert [r.auth for r in log] == ["none", "bearer", "legacy", "legacy"]
    assert log[2].credential_headers == ("x-user-email", "x-user-token")
    raw = (sim.directory / "requests.jsonl").read_text()
    assert "demo-token" not in raw and "ops@partner.example" not in raw


async def test_export_builds_a_real_zip_with_pinned_versions(client: httpx.AsyncClient) -> None:
    assets = await _assets(client, "E-template", 112)
    for a in assets:
        if a["name"] == "Sync accounts":
            a["version"] = 3
    blob = await _export(client, "E-template", await _manifest(client, "crm", 112, assets))
    archive = zipfile.ZipFile(io.BytesIO(blob))
    assert sorted(archive.namelist()) == [
        "Mappings/account_mappings.lookup_table.json",
        "sync_accounts.recipe.json",
        "sync_contacts.recipe.json",
    ]
    recipe = json.loads(archive.read("sync_accounts.recipe.json"))
    assert set(recipe) == {
        "name",
        "description",
        "version",
        "private",
        "concurrency",
        "code",
        "config",
    }
    assert recipe["version"] == 3
    assert (
        recipe["code"]["keyword"] == "trigger"
        and recipe["code"]["block"][1]["block"][0]["number"] == 3
    )
    sf = next(c for c in recipe["config"] if c["provider"] == "salesforce")
    assert sf["account_id"] == {
        "zip_name": "salesforce.connection.json",
        "name": "Salesforce",
        "folder": "",
    }
    lookup = json.loads(archive.read("Mappings/account_mappings.lookup_table.json"))
    assert lookup["rows"]


async def test_auto_generate_and_connections_without_credentials(client: httpx.AsyncClient) -> None:
    archive = zipfile.ZipFile(
        io.BytesIO(await _export(client, "E-template", await _manifest(client, "shared", 110)))
    )
    assert len(archive.namelist()) == 3
    assert json.loads(archive.read("salesforce.connection.json")) == {
        "name": "Salesforce",
        "provider": "salesforce",
        "root_folder": False,
    }


async def test_import_creates_updates_and_carries_versions(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    shared = await _export(client, "E-template", await _manifest(client, "shared", 110))
    status = await _import(
        client, "E-acme-001", shared, folder_id=1827, folder_id_for_home_assets=1830
    )
    assert status["status"] == "completed" and status["operation_type"] == "import"
    assert {a["name"] for a in sim.folder_assets("E-acme-001", 1830)} == {"Salesforce", "Slack"}
    crm = await _export(client, "E-template", await _manifest(client, "crm", 112))
    status = await _import(client, "E-acme-001", crm, folder_id=1827)
    assert [r["import_result"] for r in _recipes(status)] == [
        "no_update_or_update_without_restart"
    ] * 2
    target = {a["name"]: a for a in sim.folder_assets("E-acme-001", 1827)}
    template = {a["name"]: a for a in sim.folder_assets("E-template", 112)}
    assert target["Sync accounts"]["version"] == 4
    assert target["Sync accounts"]["id"] != template["Sync accounts"]["id"]
    again = await _import(client, "E-acme-001", crm, folder_id=1827)
    assert {r["id"] for r in _recipes(again)} == {
        target["Sync accounts"]["id"],
        target["Sync contacts"]["id"],
    }


async def test_running_recipe_rule(client: httpx.AsyncClient, sim: Simulator) -> None:
    crm = await _export(client, "E-template", await _manifest(client, "crm", 112))
    failed = await _import(client, "E-umbrella", crm, folder_id=2401, restart_recipes="false")
    assert failed["status"] == "failed" and "Sync accounts" in str(failed["error"])
    assert failed["operation_type"] == "export"  # the documents' quirk
    assert sim.asset("E-umbrella", "Sync accounts")["version"] == 3
    ok = await _import(client, "E-umbrella", crm, folder_id=2401, restart_recipes="true")
    results = {r["import_result"] for r in _recipes(ok)}
    assert ok["status"] == "completed" and "restarted" in results
    assert (
        sim.recipe_running("E-umbrella", "Sync accounts")
        and sim.asset("E-umbrella", "Sync accounts")["version"] == 4
    )


@pytest.mark.parametrize(
    "result",
    [
        "no_update_or_update_without_restart",
        "restarted",
        "not_found",
        "stop_failed",
        "stopped",
        "restart_failed",
    ],
)
async def test_every_import_result_is_reachable(
    client: httpx.AsyncClient, sim: Simulator, result: str
) -> None:
    crm = await _export(client, "E-template", await _manifest(client, "crm", 112))
    sim.fail_next_import("E-globex", 2211, [result, result])
    status = await _import(client, "E-globex", crm, folder_id=2211)
    assert [r["import_result"] for r in _recipes(status)] == [result, result]
    assert status["status"] == (
        "completed" if result in ("no_update_or_update_without_restart", "restarted") else "failed"
    )


async def test_failed_import_may_list_only_some_recipes(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    crm = await _export(client, "E-template", await _manifest(client, "crm", 112))
    sim.fail_next_import("E-globex", 2211, ["stop_failed"])
    status = await _import(client, "E-globex", crm, folder_id=2211)
    assert status["status"] == "failed" and len(_recipes(status)) == 1


async def test_home_assets_project_needs_the_home_folder(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    assets = [a for a in await _assets(client, "E-template", 110) if a["type"] == "connection"]
    manifest = await _manifest(
        client, "crm-plus", 112, [*await _assets(client, "E-template", 112), *assets]
    )
    blob = await _export(client, "E-template", manifest)
    sim.set_home_assets_project("91928")
    r = await client.post(f"{MU}/91928/imports", params={"folder_id": 77}, content=blob)
    assert r.status_code == 422 and "folder_id_for_home_assets" in r.json()["errors"]
    status = await _import(
        client, "91928", blob, folder_id=77, folder_id_for_home_assets=78, restart_recipes="true"
    )
    assert status["status"] == "completed"


async def test_oem_status_misprint_and_failed_export_null_string(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    manifest = await _manifest(client, "shared", 110)
    sim.fail_next_export("E-template", "boom")
    started = (await client.post(f"{MU}/E-template/exports/{manifest}")).json()
    failed = (await client.get(f"/managed_users/E-template/imports/{started['id']}")).json()
    assert (
        failed["status"] == "failed"
        and failed["download_url"] == "null"
        and failed["error"] == "boom"
    )

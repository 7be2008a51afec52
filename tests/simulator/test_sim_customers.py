"""Customers, folders and Embedded Environments in the simulator (customers.py, folders.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sim_world import MU

from reconciler.simulator import Simulator

pytestmark = pytest.mark.anyio


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()["result"]


async def test_customers_list_pages_of_at_most_100(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    for i in range(150):
        sim.add_customer(f"E-bulk-{i:03d}")
    first = await _get(client, MU)
    assert len(first) == 100  # per_page defaults to (and is capped at) 100
    second = await _get(client, MU, page=2, per_page=500)
    third = await _get(client, MU, page=3)
    assert len(second) == 14 + 150 - 100 and third == []
    ids = [c["id"] for c in first + second]
    assert len(set(ids)) == len(ids) == 164  # 13 demo customers + the template + 150
    assert {"id", "external_id", "name", "plan_id"} <= set(first[0])
    small = await _get(client, MU, page=4, per_page=10)
    assert [c["id"] for c in small] == ids[30:40]
    bad = await client.get(MU, params={"page": 0})
    assert bad.status_code == 400


async def test_customers_list_needs_auth(client: httpx.AsyncClient) -> None:
    r = await client.get(MU, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


async def test_environments_are_three_workspaces_addressed_by_suffix(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_customer("E-envco", folders={4001: "Integrations"}, environments=True)
    listed = {c["external_id"]: c for c in await _get(client, MU)}
    envs = {e["environment_type"]: e["id"] for e in listed["-envco"]["environments"]}
    assert set(envs) == {"test", "prod"}
    assert "environments" not in listed["-acme-001"]
    # each environment is its own workspace: a folder made in TEST is not in PROD or DEV
    made = await client.post(f"{MU}/E-envco_test/folders", json={"name": "Integrations"})
    assert made.status_code == 200
    test_id = made.json()["result"]["id"]
    assert [f["id"] for f in await _get(client, f"{MU}/E-envco_test/folders")] == [test_id]
    assert await _get(client, f"{MU}/E-envco_prod/folders") == []
    assert [f["id"] for f in await _get(client, f"{MU}/E-envco_dev/folders")] == [4001]
    # the environment's own workspace id addresses it too
    assert [f["id"] for f in await _get(client, f"{MU}/{envs['test']}/folders")] == [test_id]
    # a customer without Environments has no suffixed workspaces
    missing = await client.get(f"{MU}/E-acme-001_test/folders")
    assert missing.status_code == 404


@pytest.mark.parametrize("bare", ["dev", "prod"])
async def test_bare_id_of_a_customer_with_environments_is_a_switch(
    client: httpx.AsyncClient, sim: Simulator, bare: str
) -> None:
    sim.add_customer("E-envco", folders={4001: "Integrations"}, environments=True)
    sim.set_bare_environment(bare)
    await client.post(f"{MU}/E-envco_prod/folders", json={"name": "Prod only"})
    names = [f["name"] for f in await _get(client, f"{MU}/E-envco/folders")]
    assert names == (["Integrations"] if bare == "dev" else ["Prod only"])
    # the suffixed forms mean the same in both modes
    dev = [f["name"] for f in await _get(client, f"{MU}/E-envco_dev/folders")]
    assert dev == ["Integrations"]


async def test_folders_list_by_parent_with_pages_and_create(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    top = await _get(client, f"{MU}/E-template/folders")
    assert [f["name"] for f in top] == ["Shared connections", "CRM sync", "Billing alerts"]
    assert {"id", "name", "parent_id", "created_at", "updated_at"} <= set(top[0])
    children = await _get(client, f"{MU}/E-template/folders", parent_id=112)
    assert [(f["name"], f["parent_id"]) for f in children] == [("Mappings", 112)]
    for i in range(3):
        r = await client.post(
            f"{MU}/E-globex/folders", json={"name": f"Sub {i}", "parent_id": 2211}
        )
        assert r.status_code == 200 and r.json()["result"]["parent_id"] == 2211
    page = await _get(client, f"{MU}/E-globex/folders", parent_id=2211, per_page=2, page=2)
    assert [f["name"] for f in page] == ["Sub 2"]
    blank = await client.post(f"{MU}/E-globex/folders", json={"name": " "})
    assert blank.status_code == 422 and "name" in blank.json()["errors"]
    unknown = await client.get(f"{MU}/E-globex/folders", params={"parent_id": 999999})
    assert unknown.status_code == 404
    assert any(f["name"] == "Sub 0" for f in sim.folders("E-globex").values())


async def test_added_and_removed_customers_show_in_the_list(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.add_customer("E-newco", folders=["Integrations"])
    assert "-newco" in {c["external_id"] for c in await _get(client, MU)}
    sim.remove_customer("E-newco")
    assert "-newco" not in {c["external_id"] for c in await _get(client, MU)}
    gone = await client.get(f"{MU}/E-newco/folders")
    assert gone.status_code == 404
    with pytest.raises(ValueError, match="exists already"):
        sim.add_customer("E-globex")


async def test_admin_controls_over_http(client: httpx.AsyncClient, sim: Simulator) -> None:
    async def admin(action: str, **args: Any) -> Any:
        r = await client.post("/__sim/", content=json.dumps({"action": action, "args": args}))
        assert r.status_code == 200, r.text
        return r.json()["result"]

    user_id = await admin("add_customer", ref="E-viahttp", folders={"4100": "Integrations"})
    await admin("provision_environments", ref="E-viahttp")
    listed = {c["external_id"]: c for c in await admin("customers")}
    assert listed["-viahttp"]["id"] == user_id and listed["-viahttp"]["environments"]
    await admin("remove_customer", ref="E-viahttp")
    assert "-viahttp" not in {c["external_id"] for c in await admin("customers")}


async def test_customers_and_folders_have_quota_buckets_of_their_own(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.set_rate_limits(customers=2, folders=3)
    answers = [(await client.get(MU)).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    folders = [(await client.get(f"{MU}/E-globex/folders")).status_code for _ in range(4)]
    assert folders == [200, 200, 200, 429]
    # the RLCM "other" bucket is untouched by both
    r = await client.get(
        f"{MU}/E-globex/export_manifests/folder_assets", params={"folder_id": 2211}
    )
    assert r.status_code == 200


async def test_seed_imported_puts_current_packages_in_a_folder(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    r = await client.post(
        f"{MU}/E-template/export_manifests",
        json={"export_manifest": {"name": "crm", "folder_id": 112, "auto_generate_assets": True}},
    )
    assert r.status_code == 200
    before = len(sim.request_log())
    assert sim.seed_imported("E-globex", 2211, ["crm"]) == ["crm"]
    assert len(sim.request_log()) == before  # no API call: as a script outside rlcm did it
    names = {(a["type"], a["name"]) for a in sim.folder_assets("E-globex", 2211)}
    assert {("recipe", "Sync accounts"), ("recipe", "Sync contacts")} <= names
    assert sim.jobs("import") == []
    with pytest.raises(KeyError, match="no manifest"):
        sim.seed_imported("E-globex", 2211, ["nope"])

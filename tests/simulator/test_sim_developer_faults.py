"""Developer API, faults, rate limits, latency, persistence and UI edits, in process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from sim_world import BEARER

from reconciler.simulator import Simulator
from reconciler.simulator.transport import SimTransport

FOLDER_ASSETS = "/api/managed_users/E-template/export_manifests/folder_assets"


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=SimTransport(sim.directory), base_url="http://workato.sim", headers=BEARER
    ) as c:
        yield c


def test_developer_api_round_trip(client: httpx.Client, sim: Simulator) -> None:
    assets = client.get("/api/export_manifests/folder_assets", params={"folder_id": 510}).json()[
        "result"
    ]["assets"]
    created = client.post(
        "/api/export_manifests",
        json={"export_manifest": {"name": "nightly", "folder_id": 510, "assets": assets}},
    )
    assert created.status_code == 201  # the OpenAPI description's answer
    manifest_id = created.json()["result"]["id"]
    assert (
        client.put(
            f"/api/export_manifests/{manifest_id}", json={"export_manifest": {"name": "n2"}}
        ).status_code
        == 200
    )
    export = client.post(f"/api/packages/export/{manifest_id}").json()
    assert client.get(f"/api/packages/{export['id']}/download").status_code == 404  # no content yet
    assert client.get(f"/api/packages/{export['id']}").json()["status"] == "completed"
    redirect = client.get(f"/api/packages/{export['id']}/download")
    assert redirect.status_code == 302 and redirect.headers["location"].startswith(
        "http://assets.workato.sim/"
    )
    with httpx.Client(transport=SimTransport(sim.directory)) as bare:
        blob = bare.get(redirect.headers["location"]).content
    started = client.post(
        "/api/packages/import/620", params={"restart_recipes": "true"}, content=blob
    )
    status = client.get(f"/api/packages/{started.json()['id']}").json()
    assert status["operation_type"] == "import"
    assert status["recipe_status"][0]["import_result"] == "no_update_or_updated_without_restart"
    assert {a["name"] for a in sim.folder_assets(None, 620)} == {"Salesforce", "Nightly export"}
    assert (
        client.delete(f"/api/export_manifests/{manifest_id}").json()["result"]["status"]
        == "destroyed"
    )
    assert (
        client.post(
            "/api/export_manifests", json={"export_manifest": {"folder_id": 510}}
        ).status_code
        == 400
    )
    assert client.get("/api/packages/424242").status_code == 404
    downloads = [r for r in sim.request_log() if r.family == "assets"]
    assert downloads and all(r.credential_headers == () for r in downloads)


@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
def test_server_errors_for_the_next_n_requests(
    client: httpx.Client, sim: Simulator, status: str
) -> None:
    sim.inject_fault("folder_assets", status, count=2)
    assert [client.get(FOLDER_ASSETS).status_code for _ in range(3)] == [
        int(status),
        int(status),
        200,
    ]


def test_429_with_and_without_retry_after(client: httpx.Client, sim: Simulator) -> None:
    sim.inject_fault("folder_assets", "429", retry_after=7)
    sim.inject_fault("folder_assets", "429", retry_after=None)
    first, second = client.get(FOLDER_ASSETS), client.get(FOLDER_ASSETS)
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert second.status_code == 429 and "retry-after" not in second.headers


def test_dropped_connection_raises_in_process(client: httpx.Client, sim: Simulator) -> None:
    sim.inject_fault("manifest_create", "drop", processed=True)
    body = {"export_manifest": {"name": "lost", "folder_id": 110, "auto_generate_assets": True}}
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/api/managed_users/E-template/export_manifests", json=body)
    assert sim.request_log()[-1].status == 0


def test_garbled_answers(client: httpx.Client, sim: Simulator) -> None:
    for fault in ("malformed_json", "html", "wrong_type", "unknown_enum"):
        sim.inject_fault("folder_assets", fault)
    with pytest.raises(ValueError):
        client.get(FOLDER_ASSETS).json()
    assert client.get(FOLDER_ASSETS).headers["content-type"].startswith("text/html")
    assert client.get(FOLDER_ASSETS).json()["result"]["assets"] == "not-a-list"
    assert client.get(FOLDER_ASSETS).json()["result"]["assets"][0]["type"] == "hologram"


def test_slow_answer_and_fault_validation(client: httpx.Client, sim: Simulator) -> None:
    sim.inject_fault("manifest_view", "slow", delay=0.2)
    with pytest.raises(ValueError):
        sim.inject_fault("nope", "500")
    start = time.monotonic()
    assert client.get("/api/managed_users/E-template/export_manifests/1").status_code == 404
    assert time.monotonic() - start >= 0.2


def test_rate_limits_follow_the_time_scale(client: httpx.Client, sim: Simulator) -> None:
    sim.set_time_scale(60)  # a minute lasts a second
    sim.set_rate_limits(other=5)
    codes = [client.get(FOLDER_ASSETS).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    time.sleep(1.05)
    assert client.get(FOLDER_ASSETS).status_code == 200
    sim.set_rate_limits(retry_after=False, other=1)
    client.get(FOLDER_ASSETS)
    assert "retry-after" not in client.get(FOLDER_ASSETS).headers


def test_latency_is_awaited_not_blocking(sim: Simulator) -> None:
    sim.set_latency(0.3)

    async def main() -> float:
        async with httpx.AsyncClient(
            transport=SimTransport(sim.directory), base_url="http://workato.sim", headers=BEARER
        ) as c:
            start = time.monotonic()
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(c.get, FOLDER_ASSETS)
            return time.monotonic() - start

    assert anyio.run(main) < 1.0  # five 0.3 s answers overlap


def test_state_persists_across_instances_on_one_dir(sim: Simulator, tmp_path: Path) -> None:
    other = Simulator(tmp_path)
    version = sim.bump_recipe_version("E-template", "Sync accounts")
    assert version == 5
    assert other.asset("E-template", "Sync accounts")["version"] == 5
    other.inject_fault("folder_assets", "503")
    with httpx.Client(
        transport=SimTransport(tmp_path), base_url="http://workato.sim", headers=BEARER
    ) as client:
        assert client.get(FOLDER_ASSETS).status_code == 503
    assert sim.request_counts() == {"folder_assets": 1}


def test_ui_edits(sim: Simulator, client: httpx.Client) -> None:
    body = {"export_manifest": {"name": "m", "folder_id": 114, "auto_generate_assets": True}}
    manifest_id = client.post("/api/managed_users/E-template/export_manifests", json=body).json()[
        "result"
    ]["id"]
    sim.rename_asset("E-template", "Payment failed alert", "Payment alert")
    sim.delete_asset("E-template", "Slack")
    sim.edit_manifest("E-template", manifest_id, name="edited")
    names = {
        a["name"]
        for a in client.get(FOLDER_ASSETS, params={"folder_id": 114}).json()["result"]["assets"]
    }
    assert names == {"Invoice overdue alert", "Payment alert"}
    assert (
        client.get(f"/api/managed_users/E-template/export_manifests/{manifest_id}").json()[
            "result"
        ]["name"]
        == "edited"
    )
    sim.archive_manifest("E-template", manifest_id)
    archived = sim.manifest("E-template", manifest_id)
    assert archived is not None and archived["status"] == "archived"
    sim.start_recipe("E-template", "Payment alert")
    assert sim.recipe_running("E-template", "Payment alert")
    sim.stop_recipe("E-template", "Payment alert")
    assert not sim.recipe_running("E-template", "Payment alert")
    assert sim.change_asset("E-umbrella", "Sync accounts") == 4


def test_demo_seed_matches_the_brief(tmp_path: Path) -> None:
    sim = Simulator(tmp_path)
    sim.seed_demo(customers=3)
    assert sim.managed_user_id("E-template") == 91000
    assert sim.managed_user_id("E-acme-001") == 92001 and sim.managed_user_id("91928") == 91928
    assert sim.managed_user_id("E-cust-0003") == 100003
    assert sim.folder_assets("E-cust-0002", 50002) == []
    assert {(a["name"], a["version"]) for a in sim.folder_assets("E-template", 114)} == {
        ("Invoice overdue alert", 3),
        ("Payment failed alert", 1),
    }
    assert [
        (a["name"], a["running"], a["version"]) for a in sim.folder_assets("E-umbrella", 2401)
    ] == [("Sync accounts", True, 3)]
    assert {a["name"] for a in sim.folder_assets(None, 510)} == {"Salesforce", "Nightly export"}
    assert sim.folder_assets(None, 610) == [] and sim.folder_assets("E-acme-001", 1830) == []

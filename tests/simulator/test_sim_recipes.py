"""The Recipes API in the simulator: pages, filters, start/stop, health and the shape switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sim_world import BEARER, MU, sim_serve

from reconciler.simulator import Simulator
from reconciler.simulator.serve import running_server

pytestmark = pytest.mark.anyio


def _rows(payload: Any) -> list[dict[str, Any]]:
    rows = payload["result"] if isinstance(payload, dict) else payload
    assert isinstance(rows, list)
    return rows


async def test_list_pages_newest_first_with_default_and_max_page_size(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    # 4 template recipes; add 120 more to one folder so pages matter
    with sim._workspace("E-template") as ws:
        for n in range(120):
            asset_id = sim.engine.store.next_id("asset")
            ws["assets"][str(asset_id)] = {
                "id": asset_id, "type": "recipe", "name": f"extra {n}", "folder_id": 114,
                "version": 1, "running": False, "body": {}, "history": {},
            }  # fmt: skip
    first = _rows((await client.get(f"{MU}/E-template/recipes")).json())
    assert len(first) == 10  # per_page defaults to 10
    ids = [r["id"] for r in first]
    assert ids == sorted(ids, reverse=True)
    big = await client.get(f"{MU}/E-template/recipes", params={"per_page": 500, "folder_id": 114})
    assert len(_rows(big.json())) == 100  # at most 100 per page
    second = await client.get(
        f"{MU}/E-template/recipes", params={"per_page": 100, "folder_id": 114, "page": 2}
    )
    assert len(_rows(second.json())) == 22  # 120 extra + the two billing alerts
    row = _rows(second.json())[-1]
    assert set(row) == {
        "id", "name", "folder_id", "running", "version_no", "updated_at",
        "job_succeeded_count", "job_failed_count", "last_run_at", "stopped_at", "stop_cause",
    }  # fmt: skip
    assert (row["name"], row["version_no"], row["folder_id"]) == ("Invoice overdue alert", 3, 114)
    bad = await client.get(f"{MU}/E-template/recipes", params={"page": "two"})
    assert bad.status_code == 400 and bad.json()["errors"]["page"]


async def test_filters_folder_only_and_running(client: httpx.AsyncClient, sim: Simulator) -> None:
    in_112 = _rows((await client.get(f"{MU}/E-template/recipes?folder_id=112")).json())
    assert {r["name"] for r in in_112} == {"Sync accounts", "Sync contacts"}
    assert _rows((await client.get(f"{MU}/E-template/recipes?folder_id=113")).json()) == []
    sim.start_recipe("E-template", "Sync contacts")
    running = _rows((await client.get(f"{MU}/E-template/recipes?running=true")).json())
    assert [r["name"] for r in running] == ["Sync contacts"]
    stopped = _rows((await client.get(f"{MU}/E-template/recipes?running=false")).json())
    assert "Sync contacts" not in {r["name"] for r in stopped} and len(stopped) == 3


async def test_start_stop_and_health_controls(client: httpx.AsyncClient, sim: Simulator) -> None:
    recipe_id = sim.asset("E-template", "Sync accounts")["id"]
    base = f"{MU}/E-template/recipes/{recipe_id}"
    assert (await client.put(f"{base}/start")).json() == {"success": True}
    one = (await client.get(base)).json()
    assert one["running"] is True and one["stop_cause"] is None
    sim.stop_recipe("E-template", "Sync accounts", cause="trigger_errors_limit")
    sim.add_jobs("E-template", "Sync accounts", failed=3, succeeded=2)
    one = (await client.get(base)).json()
    assert (one["running"], one["stop_cause"], one["job_failed_count"]) == (
        False,
        "trigger_errors_limit",
        3,
    )
    assert one["job_succeeded_count"] == 2 and one["stopped_at"] and one["last_run_at"]
    with pytest.raises(ValueError, match="unknown stop_cause"):
        sim.stop_recipe("E-template", "Sync accounts", cause="bored")
    await client.put(f"{base}/start")
    assert (await client.put(f"{base}/stop")).json() == {"success": True}
    one = (await client.get(base)).json()
    assert one["running"] is False and one["stop_cause"] is None and one["stopped_at"]
    assert (await client.put(f"{MU}/E-template/recipes/999999/start")).status_code == 404


async def test_start_refused_when_a_connection_is_not_authorized(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    sim.set_connection_authorized("E-template", "Salesforce", False)
    recipe_id = sim.asset("E-template", "Sync accounts")["id"]
    answer = await client.put(f"{MU}/E-template/recipes/{recipe_id}/start")
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is False and body["code_errors"] == []
    assert body["config_errors"] == [
        {"provider": "salesforce", "message": "Salesforce: connection is not authorized"}
    ]
    assert sim.recipe_running("E-template", "Sync accounts") is False
    sim.set_connection_authorized("E-template", "Salesforce", True)
    assert (await client.put(f"{MU}/E-template/recipes/{recipe_id}/start")).json()["success"]


@pytest.mark.parametrize("shape", ["result", "items", "bare"])
async def test_shape_switch_wraps_both_families(
    client: httpx.AsyncClient, sim: Simulator, shape: str
) -> None:
    sim.set_recipes_shape(shape)
    for path in (f"{MU}/E-template/recipes", "/api/recipes"):
        payload = (await client.get(path)).json()
        rows = payload if shape == "bare" else payload[shape]
        assert isinstance(rows, list) and rows, (path, payload)


async def test_documented_shapes_and_buckets(client: httpx.AsyncClient, sim: Simulator) -> None:
    assert "result" in (await client.get(f"{MU}/E-template/recipes")).json()
    own = (await client.get("/api/recipes")).json()
    assert [r["name"] for r in own["items"]] == ["Nightly export"]
    recipe_id = own["items"][0]["id"]
    # the demo's Nightly export posts to Slack, which the own workspace lacks
    refused = (await client.put(f"/api/recipes/{recipe_id}/start")).json()
    assert refused["config_errors"] == [{"provider": "slack", "message": "Slack: missing"}]
    kinds = [(r.kind, r.family) for r in sim.request_log()]
    assert kinds[-1] == ("recipe_start", "developer")
    # quotas: the developer API's recipe calls have 60/minute, the embedded list 2,000
    sim.set_rate_limits(True, dev_recipes=2, recipes=3)
    codes = [(await client.get("/api/recipes")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    codes = [(await client.get(f"{MU}/E-template/recipes")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_admin_controls_over_http(sim: Simulator) -> None:
    with running_server(sim.directory) as url, httpx.Client(base_url=url, headers=BEARER) as http:
        for action, args in [
            ("stop_recipe", {"owner": "E-template", "recipe": "Sync accounts",
                             "cause": "trigger_errors_limit"}),
            ("add_jobs", {"owner": "E-template", "recipe": "Sync accounts", "failed": 4}),
            ("set_connection_authorized", {"owner": "E-template", "connection": "Slack",
                                           "authorized": False}),
            ("set_recipes_shape", {"shape": "items"}),
        ]:  # fmt: skip
            assert http.post("/__sim/", json={"action": action, "args": args}).status_code == 200
        rows = http.get(f"{MU}/E-template/recipes", params={"folder_id": 112}).json()["items"]
        accounts = next(r for r in rows if r["name"] == "Sync accounts")
        assert (accounts["stop_cause"], accounts["job_failed_count"]) == ("trigger_errors_limit", 4)
        bad = http.post("/__sim/", json={"action": "set_recipes_shape", "args": {"shape": "x"}})
        assert bad.status_code == 422
    assert sim.asset("E-template", "Slack")["authorized"] is False


def test_serve_flag_sets_the_shape(tmp_path: Path) -> None:
    flags = ("--dir", str(tmp_path), "--seed", "demo", "--recipes-shape", "bare")
    with sim_serve(*flags) as (_, url):
        answer = httpx.get(f"{url}{MU}/E-template/recipes", headers=BEARER, timeout=10)
        assert isinstance(answer.json(), list) and answer.json()

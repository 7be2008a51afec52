"""The client's Recipes API calls against the simulator: every page, each list shape, the
quota bucket of each call, and a refused start read as an answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.errors import NotFoundError, ProtocolError
from reconciler.simulator import Simulator
from reconciler.simulator.transport import SimTransport
from reconciler.workato.client import WorkatoClient
from reconciler.workato.models import Recipe

MakeClient = Callable[..., WorkatoClient]


def _world(tmp_path: Path, extra: int) -> Simulator:
    sim = Simulator(tmp_path)
    sim.seed_demo()
    with sim._workspace("E-acme-001") as ws:
        for n in range(extra):
            asset_id = sim.engine.store.next_id("asset")
            ws["assets"][str(asset_id)] = {
                "id": asset_id, "type": "recipe", "name": f"r{n}", "folder_id": 1827,
                "version": 1, "running": n % 2 == 0, "body": {}, "history": {},
            }  # fmt: skip
    return sim


@pytest.mark.parametrize("shape", [None, "result", "items", "bare"])
def test_every_page_is_read_in_each_shape(
    tmp_path: Path, make_client: MakeClient, shape: str | None
) -> None:
    sim = _world(tmp_path, 250)
    sim.set_recipes_shape(shape)

    async def run() -> tuple[list[Recipe], list[Recipe]]:
        async with make_client(
            transport=SimTransport(tmp_path), token="demo-token", base_url="http://workato.sim"
        ) as client:
            every = await client.list_recipes("E-acme-001", folder_id=1827)
            running = await client.list_recipes("E-acme-001", folder_id=1827, running=True)
            return every, running

    every, running = asyncio.run(run())
    assert len(every) == 250 and len({r.id for r in every}) == 250
    assert len(running) == 125 and all(r.running for r in running)
    pages = [r.query for r in sim.request_log() if r.kind == "recipes_list"]
    assert [p["page"] for p in pages[:3]] == ["1", "2", "3"] and len(pages) == 5
    assert all(p["per_page"] == "100" for p in pages)


def test_an_exact_multiple_of_the_page_size_ends_on_an_empty_page(
    tmp_path: Path, make_client: MakeClient
) -> None:
    _world(tmp_path, 200)

    async def run() -> int:
        async with make_client(
            transport=SimTransport(tmp_path), token="demo-token", base_url="http://workato.sim"
        ) as client:
            found = await client.list_recipes("E-acme-001")
            assert client.stats.requests["recipes_list"] == 3
            return len(found)

    assert asyncio.run(run()) == 200


def test_calls_use_the_recipe_buckets(tmp_path: Path, make_client: MakeClient) -> None:
    sim = _world(tmp_path, 0)
    sim.set_connection_authorized("E-template", "Salesforce", False)
    recipe_id = int(sim.asset("E-template", "Sync accounts")["id"])
    other_id = int(sim.asset("E-template", "Invoice overdue alert")["id"])

    async def run() -> None:
        async with make_client(
            transport=SimTransport(tmp_path), token="demo-token", base_url="http://workato.sim"
        ) as client:
            refused = await client.start_recipe("E-template", recipe_id)
            assert not refused.success
            assert refused.reasons == ["Salesforce: connection is not authorized"]
            assert (await client.start_recipe("E-template", other_id)).success
            assert (await client.get_recipe("E-template", other_id)).running
            assert (await client.stop_recipe("E-template", other_id)).success
            assert [r.name for r in await client.list_recipes(None)] == ["Nightly export"]
            with pytest.raises(NotFoundError):
                await client.get_recipe("E-template", 1)

    asyncio.run(run())
    buckets = {(r.kind, r.family): r for r in sim.request_log()}
    assert set(buckets) == {
        ("recipe_start", "embedded"), ("recipe_view", "embedded"), ("recipe_stop", "embedded"),
        ("recipes_list", "developer"),
    }  # fmt: skip


def test_an_answer_without_a_list_is_a_protocol_error(make_client: MakeClient) -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"result": {"recipes": "none"}})

    async def run() -> None:
        async with make_client(handler) as client:
            await client.list_recipes("E-x")

    with pytest.raises(ProtocolError, match="no list of recipes"):
        asyncio.run(run())

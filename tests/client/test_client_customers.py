"""The customers and folders calls of a generated fleet, against the simulator and odd answers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import MakeClient

from reconciler.config.desired import RateLimits
from reconciler.errors import ProtocolError
from reconciler.simulator import Simulator
from reconciler.simulator.transport import SimTransport

pytestmark = pytest.mark.anyio
SIM = "http://workato.sim"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim(tmp_path: Path) -> Simulator:
    simulator = Simulator(tmp_path / "sim")
    simulator.seed_demo()
    return simulator


async def test_list_customers_reads_every_page(make_client: MakeClient, sim: Simulator) -> None:
    for i in range(230):
        sim.add_customer(f"E-many-{i:03d}")
    sim.add_customer("E-envco", environments=True)
    client = make_client(transport=SimTransport(sim.directory), base_url=SIM, token="demo-token")
    async with client:
        customers = await client.list_customers()
    assert len(customers) == 14 + 230 + 1
    assert client.stats.requests["customers_list"] == 3  # pages of 100
    by_ref = {c.ref: c for c in customers}
    assert by_ref["E-envco"].has_environments and set(by_ref["E-envco"].environments) == {
        "test",
        "prod",
    }
    assert not by_ref["E-acme-001"].has_environments
    assert by_ref["91928"].external_id is None  # a numeric-only customer keeps its number


async def test_folders_list_and_create(make_client: MakeClient, sim: Simulator) -> None:
    client = make_client(transport=SimTransport(sim.directory), base_url=SIM, token="demo-token")
    async with client:
        made = await client.create_folder("E-globex", "CRM", 2211)
        top = await client.list_folders("E-globex")
        under = await client.list_folders("E-globex", 2211)
    assert [f.id for f in top] == [2211]
    assert [(f.name, f.parent_id) for f in under] == [("CRM", 2211)] and under[0].id == made.id
    assert sim.folders("E-globex")[made.id]["parent_id"] == 2211


async def test_customers_call_waits_for_its_own_bucket(
    make_client: MakeClient, sim: Simulator
) -> None:
    client = make_client(
        transport=SimTransport(sim.directory),
        base_url=SIM,
        token="demo-token",
        rate_limits=RateLimits(customers=1, other=10_000),
    )
    async with client:
        await client.list_customers()
        await client.list_customers()
        assert client.stats.limiter_wait >= 59  # the second list waited for the next minute
        await client.folder_assets("E-globex", 2211)
    assert client.stats.rate_limited == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"result": [{"id": 7, "external_id": "x", "environments": [{"id": 8, "type": "test"}]}]},
        {"items": [{"id": 7, "external_id": "x", "environments": {"test": 8}}]},
        [{"id": 7, "external_id": "x", "environments": [{"id": 8, "environment": "TEST"}]}],
    ],
)
async def test_list_shapes_are_accepted(make_client: MakeClient, payload: object) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=payload)

    async with make_client(handler) as client:
        customers = await client.list_customers()
    assert [(c.ref, c.environments) for c in customers] == [("Ex", {"test": 8})]


async def test_a_server_ignoring_page_is_an_error_not_a_loop(make_client: MakeClient) -> None:
    full = [{"id": i, "name": f"f{i}"} for i in range(100)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"result": full}))

    async with make_client(handler) as client:
        with pytest.raises(ProtocolError, match="repeats page 1"):
            await client.list_folders("E-x")
        assert client.stats.requests["folders_list"] == 2


async def test_a_non_list_answer_names_the_call(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"result": {"id": 1}})

    async with make_client(handler) as client:
        with pytest.raises(ProtocolError, match="customers_list") as info:
            await client.list_customers()
    assert "/api/managed_users" in str(info.value)

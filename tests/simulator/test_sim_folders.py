"""The simulator's Folders API: a workspace's folders by parent; 404 for an unknown parent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.simulator import Simulator
from reconciler.simulator.transport import SimTransport

AUTH = {"Authorization": "Bearer demo-token"}


@pytest.fixture
def client(tmp_path: Path) -> httpx.Client:
    Simulator(tmp_path).seed_demo()
    return httpx.Client(transport=SimTransport(tmp_path), base_url="http://workato.sim")


def test_a_customer_folder_is_listed_under_its_parent(client: httpx.Client) -> None:
    top = client.get("/api/managed_users/E-acme-001/folders", headers=AUTH)
    assert top.status_code == 200
    ids = [f["id"] for f in top.json()["result"]]
    assert ids
    first = client.get(
        "/api/managed_users/E-acme-001/folders", params={"parent_id": ids[0]}, headers=AUTH
    )
    assert first.status_code == 200
    assert all(f["parent_id"] == ids[0] for f in first.json()["result"])


def test_an_unknown_parent_or_customer_is_404(client: httpx.Client) -> None:
    folder = client.get(
        "/api/managed_users/E-acme-001/folders", params={"parent_id": 987654}, headers=AUTH
    )
    customer = client.get("/api/managed_users/E-nobody/folders", headers=AUTH)
    assert (folder.status_code, customer.status_code) == (404, 404)


def test_the_own_workspace_answers_on_the_developer_path(client: httpx.Client) -> None:
    answer = client.get("/api/folders", params={"per_page": 1}, headers=AUTH)
    assert answer.status_code == 200
    assert len(answer.json()["result"]) <= 1

"""The simulator over real HTTP on 127.0.0.1: routes, cross-origin downloads, drops, admin, CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.simulator import Simulator
from reconciler.simulator.serve import running_server

pytestmark = pytest.mark.http
BEARER = {"Authorization": "Bearer demo-token"}


@pytest.fixture
def sim(tmp_path: Path) -> Simulator:
    simulator = Simulator(tmp_path)
    simulator.seed_demo()
    simulator.set_job_timing(duration=0, polls=0)  # jobs finish at once
    return simulator


def test_export_and_download_over_http_never_leak_credentials(sim: Simulator) -> None:
    with running_server(sim.directory) as url, httpx.Client(base_url=url, headers=BEARER) as client:
        assert url.startswith("http://127.0.0.1:")
        body = {
            "export_manifest": {"name": "shared", "folder_id": 110, "auto_generate_assets": True}
        }
        manifest = client.post("/api/managed_users/E-template/export_manifests", json=body).json()[
            "result"
        ]
        export = client.post(f"/api/managed_users/E-template/exports/{manifest['id']}").json()
        assert export["status"] == "completed"
        assert export["download_url"].startswith(url.replace("127.0.0.1", "localhost"))
        # httpx forwards custom headers on a cross-origin redirect: the assets host must see them
        # in its log if a client forgot to strip them, so this proves the log records names.
        leaky = httpx.get(export["download_url"], headers={"x-user-token": "demo-token"})
        clean = httpx.get(export["download_url"])
        assert leaky.content == clean.content and clean.content[:2] == b"PK"
    assets_hits = [r for r in sim.request_log() if r.family == "assets"]
    assert [r.credential_headers for r in assets_hits] == [("x-user-token",), ()]
    assert [r.host.split(":")[0] for r in assets_hits] == ["localhost", "localhost"]


def test_drop_closes_the_socket(sim: Simulator) -> None:
    sim.inject_fault("folder_assets", "drop")
    with running_server(sim.directory) as url, httpx.Client(base_url=url, headers=BEARER) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.get("/api/managed_users/E-template/export_manifests/folder_assets")
        assert (
            client.get("/api/managed_users/91000/export_manifests/folder_assets").status_code == 200
        )


def test_admin_endpoint_drives_a_server(sim: Simulator) -> None:
    with running_server(sim.directory) as url, httpx.Client(base_url=url, headers=BEARER) as client:
        r = client.post(
            "/__sim/",
            json={"action": "inject_fault", "args": {"kind": "import_status", "fault": "503"}},
        )
        assert r.json() == {"result": None}
        assert client.post("/__sim/", json={"action": "rm_rf"}).status_code == 400
        bumped = client.post(
            "/__sim/",
            json={
                "action": "bump_recipe_version",
                "args": {"owner": "E-template", "recipe": "Sync contacts"},
            },
        )
        assert bumped.json()["result"] == 3
        client.get("/api/managed_users/E-template/export_manifests/folder_assets")
        log = client.get("/__sim/log").json()["result"]
        assert log[-1]["kind"] == "folder_assets" and log[-1]["auth"] == "bearer"
        assert client.get("/__sim/counts").json()["result"]["folder_assets"] == 1
    assert sim.engine.controls()["faults"][0]["fault"] == "503"


def test_cli_seed_and_serve(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["sim", "seed", "demo", "--dir", str(tmp_path / "s"), "--customers", "2"]
    )
    assert result.exit_code == 0, result.output
    assert Simulator(tmp_path / "s").managed_user_id("E-cust-0002") == 100002
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "sim",
            "serve",
            "--dir",
            str(tmp_path / "t"),
            "--seed",
            "demo",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        r = httpx.get(
            f"{url}/api/managed_users/E-acme-001/export_manifests/folder_assets",
            headers=BEARER,
            timeout=10,
        )
        assert r.json() == {"result": {"assets": []}}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

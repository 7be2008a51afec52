"""`rlcm sim` controls: each common one changes the simulator, on a directory and on a server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sim_world import sim_serve

from reconciler.cli import cli
from reconciler.simulator import Simulator
from reconciler.simulator.serve import running_server

Run = Callable[..., Result]
ASSET = {"id": 100005, "type": "recipe", "name": "Sync contacts", "version": 2}


@pytest.fixture
def sim(tmp_path: Path) -> Simulator:
    simulator = Simulator(tmp_path / "sim")
    simulator.seed_demo()
    return simulator


@pytest.fixture(params=["dir", "url"])
def run(request: pytest.FixtureRequest, sim: Simulator) -> Iterator[Run]:
    """`rlcm sim CONTROL ...` against the directory, or against `rlcm sim serve`'s server."""

    def invoke(endpoint: list[str]) -> Run:
        def call(control: str, *args: str) -> Result:
            return CliRunner().invoke(cli, ["sim", control, *endpoint, *args])

        return call

    if request.param == "dir":
        yield invoke(["--dir", str(sim.directory)])
    else:
        with running_server(sim.directory) as url:
            yield invoke(["--url", url])


def test_ids_show_the_token_and_the_seeded_ids(run: Run) -> None:
    result = run("ids")
    assert result.exit_code == 0, result.output
    assert "token: demo-token" in result.stdout
    assert "E-template  (managed user, id 91000)" in result.stdout
    assert "112 CRM sync" in result.stdout
    assert "recipe 100009 'Sync accounts' v3 in folder 2401, running" in result.stdout
    assert "own  (own workspace (developer API))" in result.stdout


def test_bump_recipe_makes_a_new_version(run: Run, sim: Simulator) -> None:
    result = run("bump-recipe", "E-template", "Sync contacts")
    assert result.exit_code == 0, result.output
    assert "is now version 3" in result.stdout
    assert sim.asset("E-template", "Sync contacts")["version"] == 3


def test_edit_and_archive_a_manifest(run: Run, sim: Simulator) -> None:
    manifest_id = _create_manifest(sim)
    edited = run("edit-manifest", "E-template", str(manifest_id), "--set", "name=renamed",
                 "--set", "include_tags=false")  # fmt: skip
    assert edited.exit_code == 0, edited.output
    found = sim.manifest("E-template", manifest_id)
    assert found is not None and found["name"] == "renamed" and found["include_tags"] is False
    archived = run("archive-manifest", "E-template", str(manifest_id))
    assert archived.exit_code == 0, archived.output
    found = sim.manifest("E-template", manifest_id)
    assert found is not None and found["status"] == "archived"


def test_a_manifest_is_named_by_its_name_too(run: Run, sim: Simulator) -> None:
    manifest_id = _create_manifest(sim)
    edited = run("edit-manifest", "E-template", "m", "--set", "folder_id=113")
    assert edited.exit_code == 0, edited.output
    found = sim.manifest("E-template", manifest_id)
    assert found is not None and found["folder_id"] == 113
    missing = run("archive-manifest", "E-template", "nope")
    assert missing.exit_code == 1
    assert "no manifest 'nope' in E-template (manifests: m)" in missing.stderr


def test_fail_next_import_and_clear(run: Run, sim: Simulator) -> None:
    result = run("fail-next-import", "E-acme-001", "1827", "--result", "restart_failed")
    assert result.exit_code == 0, result.output
    assert sim.engine.controls()["import_failures"] == [
        {"workspace": "mu-92001", "folder_id": 1827, "results": ["restart_failed"]}
    ]
    assert run("fault", "import", "503", "--count", "2").exit_code == 0
    assert sim.engine.controls()["faults"][0]["remaining"] == 2
    assert run("clear-faults").exit_code == 0
    assert sim.engine.controls()["import_failures"] == []
    assert sim.engine.controls()["faults"] == []


def test_stop_and_start_a_recipe(run: Run, sim: Simulator) -> None:
    assert run("stop-recipe", "E-umbrella", "Sync accounts").exit_code == 0
    assert sim.recipe_running("E-umbrella", "Sync accounts") is False
    assert run("start-recipe", "E-umbrella", "100009").exit_code == 0  # by id
    assert sim.recipe_running("E-umbrella", "Sync accounts") is True


def test_dialects_are_switched_and_reset(run: Run, sim: Simulator) -> None:
    switched = run("dialect", "processing", "one_import")
    assert switched.exit_code == 0, switched.output
    assert sorted(sim.engine.dialects()) == ["one_import", "processing"]
    assert run("dialect").stdout.strip() == "dialects: none (the documents' forms)"
    assert sim.engine.dialects() == []
    wrong = run("dialect", "klingon")
    assert wrong.exit_code == 1 and "klingon" in wrong.stderr


def test_generic_action_reaches_every_admin_action(run: Run, sim: Simulator) -> None:
    listed = run("action")
    assert "set_latency" in listed.stdout.split()
    result = run("action", "set_latency", "seconds=0.25")
    assert result.exit_code == 0, result.output
    assert sim.engine.controls()["latency"] == 0.25
    asked = run("action", "managed_user_id", "ref=E-globex")
    assert asked.stdout.strip() == "92002"


def test_a_wrong_control_is_one_error_line(run: Run) -> None:
    result = run("bump-recipe", "E-template", "No such recipe")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: simulator at ")
    assert line.endswith(": bump_recipe_version: no asset 'No such recipe' in workspace mu-91000")
    unknown = run("action", "rm_rf")
    assert unknown.exit_code == 1 and "unknown action 'rm_rf'" in unknown.stderr


def test_an_empty_directory_says_how_to_seed_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sim", "ids", "--dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert f"seed one with `rlcm sim seed demo --dir {tmp_path / 'none'}`" in result.stderr
    assert not (tmp_path / "none").exists()  # asking made no simulator


def test_no_server_at_the_url_is_one_error_line() -> None:
    result = CliRunner().invoke(cli, ["sim", "ids", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the simulator at http://127.0.0.1:9" in result.stderr


def test_config_names_the_simulator(tmp_path: Path, sim: Simulator) -> None:
    (tmp_path / "w.yaml").write_text(
        "kind: Workspace\nname: w\napi:\n  base_url: sim://sim\n"
        "---\nkind: Source\nworkspace: w\nmanaged_user: E-template\n"
    )
    result = CliRunner().invoke(
        cli, ["sim", "bump-recipe", "-c", str(tmp_path / "w.yaml"), "E-template", "100005"]
    )
    assert result.exit_code == 0, result.output
    assert sim.asset("E-template", "Sync contacts")["version"] == 3


def test_serve_prints_url_token_and_ids(tmp_path: Path) -> None:
    with sim_serve("--dir", str(tmp_path / "s"), "--seed", "demo") as (proc, url):
        assert url.startswith("http://127.0.0.1:")
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        text = "".join(lines)
        assert f"base_url: {url}" in text
        assert "token: demo-token" in text
        assert "E-template  (managed user, id 91000)" in text
        ids = CliRunner().invoke(cli, ["sim", "ids", "--url", url])
        assert "E-soylent" in ids.stdout


def _create_manifest(sim: Simulator) -> int:
    """A manifest in the template, made through the embedded API as rlcm would."""
    import httpx

    from reconciler.simulator.transport import SimTransport

    with httpx.Client(
        transport=SimTransport(sim.directory),
        base_url="http://workato.sim",
        headers={"Authorization": "Bearer demo-token"},
    ) as client:
        answer = client.post(
            "/api/managed_users/E-template/export_manifests",
            json={"export_manifest": {"name": "m", "folder_id": 112, "assets": [ASSET]}},
        )
    assert answer.status_code < 300, answer.text
    return int(answer.json()["result"]["id"])

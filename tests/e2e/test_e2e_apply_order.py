"""`rlcm apply` end to end: dependency order, one export per manifest, waves, max_parallel.

Every claim is read back from the simulator: its request log and its jobs (each import
job keeps its target folder, the package it received and when it started and finished).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_fixtures import (
    DEMO_MANIFESTS,
    World,
    count,
    generic_customers,
    imported_manifests,
    max_in_flight,
)

DEMO_FOLDERS = (1827, 2211, 77, 2301, 2401, 2501, 2601, 2701, 2801, 2901, 3001, 3101, 3201)


@pytest.fixture(params=["sim", "http"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The demo world, reached in process (`sim://`) or over HTTP on 127.0.0.1."""
    world = World(tmp_path)
    if request.param == "http":
        with world.over_http():
            yield world
    else:
        yield world


def test_demo_apply_imports_dependencies_first_on_every_target(world: World) -> None:
    result = world.apply()

    assert result.exit_code == 3, result.stderr  # E-umbrella's running recipe
    jobs = world.sim.jobs("import")
    assert len(jobs) == count(world.log(), "import") == 39
    for folder in DEMO_FOLDERS:
        order = imported_manifests(world, folder)
        assert sorted(order) == sorted(DEMO_MANIFESTS), folder
        assert order[0] == "shared-connections", (folder, order)
        # ... and the dependency had finished before a dependent started there
        mine = [j for j in jobs if int(j["params"]["folder_id"]) == folder]
        assert mine[0]["finished"] <= min(j["created"] for j in mine[1:]), folder


def test_main_wave_starts_only_after_the_canary_wave_finished(world: World) -> None:
    world.apply()

    jobs = world.sim.jobs("import")
    canary = [j for j in jobs if int(j["params"]["folder_id"]) == 1827]
    main = [j for j in jobs if int(j["params"]["folder_id"]) != 1827]
    assert len(canary) == 3 and len(main) == 36
    assert max(j["finished"] for j in canary) <= min(j["created"] for j in main)
    # the request log agrees: every canary import POST comes before any main one
    posts = [r.query["folder_id"] for r in world.log() if r.kind == "import"]
    assert posts.index("1827") == 0 and posts[:3] == ["1827"] * 3


def test_fifty_targets_share_one_export_and_one_download_per_manifest(tmp_path: Path) -> None:
    world = World(tmp_path, customers=50)
    world.generic_fleet(50)

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 0, result.stderr
    log = world.log()
    assert count(log, "manifest_create") == 3
    assert count(log, "export") == 3
    assert count(log, "import") == 150
    assert count(log, "asset_download", "GET") == 3  # downloaded once, imported 50 times
    blobs = {world.sim.package_zip(int(j["id"])) for j in world.sim.jobs("import")}
    assert len(blobs) == 3  # the same bytes into every target
    report = json.loads((tmp_path / "r.json").read_text())
    imports = [s for s in report["steps"] if s["kind"] == "import"]
    assert len(imports) == 150 and {s["status"] for s in imports} == {"succeeded"}
    assert len({s["package_id"] for s in imports}) == 3


@pytest.mark.parametrize(("max_parallel", "mode"), [(2, "sim"), (3, "http")])
def test_max_parallel_bounds_the_imports_in_flight(
    tmp_path: Path, max_parallel: int, mode: str
) -> None:
    world = World(tmp_path, customers=12)
    world.generic_fleet(12, waves=["main"], max_parallel=max_parallel)

    if mode == "http":
        with world.over_http():
            result = world.apply()
    else:
        result = world.apply()

    assert result.exit_code == 0, result.stderr
    jobs = world.sim.jobs("import")
    assert len(jobs) == 36
    assert max_in_flight(jobs) == max_parallel  # used to the full, never beyond


def test_canary_failure_halts_later_waves_with_the_reason(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.set_rollout(halt=1)
    world.sim.fail_next_import("E-acme-001", 1827, {"Sync accounts": "stop_failed"})

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 3
    assert all(int(j["params"]["folder_id"]) == 1827 for j in world.sim.jobs("import"))
    steps = json.loads((tmp_path / "r.json").read_text())["steps"]
    main = [s for s in steps if s["kind"] == "import" and s["wave"] == "main"]
    assert len(main) == 36
    assert {s["status"] for s in main} == {"skipped"}
    assert all("the gate of wave canary" in s["message"] for s in main)
    assert result.stdout.count("the gate of wave canary stopped wave main") == 1
    failed = next(s for s in steps if s["address"] == "import.crm-sync@acme")
    assert failed["status"] == "failed"
    assert "stop_failed" in [r["import_result"] for r in failed["recipes"]]


def test_a_canary_failure_within_its_budget_lets_the_next_wave_run(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.write("rollout.yaml", "kind: Rollout\nwaves: [{name: canary, max_failures: 1}, main]\n")
    world.sim.fail_next_import("E-acme-001", 1827, {"Sync accounts": "stop_failed"})

    result = world.apply()

    assert result.exit_code == 3
    assert len(world.sim.jobs("import")) == 39
    assert "halted" not in result.stdout


def test_generic_customers_helper_matches_the_seed(tmp_path: Path) -> None:
    world = World(tmp_path, customers=2)
    for ref, folder in generic_customers(2):
        assert world.sim.folder_assets(ref, folder) == []

"""Pre-flight: what apply and plan check before anything changes.

- every `--report` path (known extension, writable, missing directories created), before
  a single request;
- every target never imported: its customer and its folder exist (one read each, in
  cheaper buckets than folder_assets), else a plan error at the target's file:line.

The simulator's request log is the witness of what reached "Workato".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apply_fixtures import World
from e2e_world import RunCli, one_manifest_world

from reconciler.simulator.core import RequestRecord


def writes(log: list[RequestRecord]) -> list[str]:
    return [f"{r.method} {r.kind}" for r in log if r.method != "GET"]


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = World(tmp_path / "world")
    world.sim.set_request_logging(True)
    return world


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("r.txt", "unknown report format .txt; use one of the extensions .json, .md, .xml"),
        ("report", "unknown report format (no extension)"),
        ("afile/apply.xml", "cannot be written"),
    ],
)
def test_a_bad_report_path_stops_apply_before_any_request(
    world: World, tmp_path: Path, name: str, why: str
) -> None:
    (tmp_path / "afile").write_text("a file, not a directory")
    good = tmp_path / "ok.json"

    run = world.apply("--report", good, "--report", tmp_path / name)

    assert run.exit_code == 1
    assert f"Error: --report {tmp_path / name}: {why}" in run.stderr
    assert "Traceback" not in run.stderr
    assert writes(world.log()) == []  # nothing was changed in Workato
    assert not world.state_path.exists() or not json.loads(world.state_path.read_text())["imports"]
    assert not good.exists()


def test_missing_report_directories_are_created(world: World, tmp_path: Path) -> None:
    report = tmp_path / "out" / "ci" / "apply.xml"

    run = world.apply("--report", report)

    assert run.exit_code == 3  # the demo's umbrella import fails; the report is there
    assert report.read_text().startswith("<?xml")


def add_target(world: World, text: str) -> None:
    world.write("extra.yaml", "# targets added by the test\n" + text)


def test_a_customer_that_does_not_exist_is_a_plan_error_at_its_line(world: World) -> None:
    add_target(
        world,
        "kind: Target\nname: ghost\nworkspace: partner\ncustomer: E-nobody\nfolder_id: 42\n"
        "manifests: [shared-connections]\nwave: main\n",
    )

    run = world.rlcm("plan")

    assert run.exit_code == 1
    assert (
        'extra.yaml:2:1: target "ghost": customer E-nobody does not exist in workspace partner'
        in run.stderr
    )
    assert "Traceback" not in run.stderr
    kinds = [r.kind for r in world.log()]
    assert kinds.count("folders_list") == 13  # the ghost's folder is not asked about
    assert writes(world.log()) == []


def test_a_folder_that_does_not_exist_is_a_plan_error_at_the_fleet_entry(world: World) -> None:
    add_target(
        world,
        "kind: Fleet\nname: more\nworkspace: partner\nmanifests: [shared-connections]\n"
        "wave: main\ncustomers:\n  - {customer: E-globex, folder_id: 2299}\n"
        "  - {customer: E-acme-001, folder_id: 9999}\n",
    )

    run = world.apply()

    assert run.exit_code == 1
    lines = run.stderr.splitlines()
    assert len(lines) == 2  # every missing one, at once, each at its own line
    assert lines[0].endswith(
        'extra.yaml:8:5: target "E-globex/2299": folder 2299 does not exist in the workspace '
        "of customer E-globex (checked before its first import)"
    )
    assert lines[1].endswith(
        'extra.yaml:9:5: target "E-acme-001/9999": folder 9999 does not exist in the '
        "workspace of customer E-acme-001 (checked before its first import)"
    )
    assert writes(world.log()) == []


def test_targets_imported_before_are_not_checked_again(world: World) -> None:
    world.sim.stop_recipe("E-umbrella", "Sync accounts")
    assert world.apply().exit_code == 0
    world.sim.clear_request_log()

    assert world.rlcm("plan").exit_code == 0

    log = world.log()
    assert "folders_list" not in {r.kind for r in log}
    # the refresh reads imported targets' recipes (per_page 100); no customer check is left
    assert [r for r in log if r.kind == "recipes_list" and r.query.get("per_page") == "1"] == []


def test_a_check_workato_cannot_answer_is_a_warning(world: World) -> None:
    world.sim.inject_fault("folders_list", "malformed_json", count=100)

    run = world.rlcm("plan")

    assert run.exit_code == 0, run.stderr
    assert "Warning: could not check that folder 1827 of target acme exists" in run.stderr


def test_the_checks_work_over_http_too(world: World) -> None:
    add_target(
        world,
        "kind: Target\nname: ghost\nworkspace: partner\ncustomer: E-nobody\nfolder_id: 42\n"
        "manifests: [shared-connections]\nwave: main\n",
    )

    with world.over_http():
        run = world.rlcm("plan")

    assert run.exit_code == 1
    assert 'target "ghost": customer E-nobody does not exist' in run.stderr


def test_folder_checks_spend_at_most_one_minute_of_their_quota(world: World) -> None:
    world.write(
        "workspace.yaml",
        (world.config / "workspace.yaml").read_text().replace("folders: 100000", "folders: 5"),
    )
    assert "folders: 5" in (world.config / "workspace.yaml").read_text()

    run = world.rlcm("plan")

    assert run.exit_code == 0, run.stderr
    asked = [r.query.get("parent_id") for r in world.log() if r.kind == "folders_list"]
    assert len(asked) == 5
    assert "1827" in asked  # the canary's folder is among those checked
    assert "the folders of 8 new targets were not checked" in run.stderr


def test_many_new_customers_are_checked_through_workato_s_customer_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    # 150 new customers: two pages of GET /api/managed_users stand for 150 reads; the one
    # the list does not show is read on its own, and its 404 is the plan error
    entries = "".join(
        f"  - {{customer: E-cust-{i:04d}, folder_id: {50_000 + i}}}\n" for i in range(1, 151)
    )
    entries += "  - {customer: E-cust-9999, folder_id: 59999}\n"
    fleet = f"kind: Fleet\nname: many\nworkspace: partner\nmanifests: [crm]\ncustomers:\n{entries}"
    sim = one_manifest_world(tmp_path / "w", monkeypatch, 150, fleet)
    sim.set_request_logging(True)

    run = run_cli("plan")

    assert run.exit_code == 1
    assert "customer E-cust-9999 does not exist in workspace partner" in run.stderr
    kinds = [r.kind for r in sim.request_log()]
    assert kinds.count("customers_list") == 2
    checks = [r for r in sim.request_log() if r.kind == "recipes_list"]
    assert [r.path for r in checks] == ["/api/managed_users/E-cust-9999/recipes"]

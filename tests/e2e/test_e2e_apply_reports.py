"""`rlcm apply` failures end to end: exit 3, and the failing recipe in all four formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from apply_fixtures import World

FAILURES = ("stop_failed", "stopped", "restart_failed", "not_found")
UMBRELLA = "E-umbrella/2401"


def _reports(tmp_path: Path) -> tuple[Path, Path, Path]:
    return tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.xml"


def _junit_failures(path: Path) -> dict[tuple[str, str], str]:
    """(classname, name) -> failure message of every failed testcase."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    found = {}
    for case in root.iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            found[(case.get("classname", ""), case.get("name", ""))] = failure.get("message", "")
    return found


@pytest.fixture
def deployed(tmp_path: Path) -> World:
    """Two generic customers with everything imported once (so their recipes exist)."""
    world = World(tmp_path / "world", customers=2)
    world.generic_fleet(2)
    assert world.apply().exit_code == 0
    return world


@pytest.mark.parametrize("result", FAILURES)
def test_a_failing_recipe_is_named_in_every_report_format(
    deployed: World, tmp_path: Path, result: str
) -> None:
    # A new version of Sync contacts: crm-sync is exported again and re-imported everywhere.
    deployed.sim.bump_recipe_version("E-template", "Sync contacts")
    deployed.sim.fail_next_import("E-cust-0001", 50001, {"Sync contacts": result})
    as_json, as_md, as_xml = _reports(tmp_path)

    run = deployed.apply("--report", as_json, "--report", as_md, "--report", as_xml)

    assert run.exit_code == 3
    failing = "import.crm-sync@E-cust-0001/50001"
    assert f"Sync contacts: {result}" in run.stdout
    steps = {s["address"]: s for s in json.loads(as_json.read_text())["steps"]}
    assert steps[failing]["status"] == "failed"
    assert {"name": "Sync contacts", "import_result": result, "succeeded": False}.items() <= (
        next(r for r in steps[failing]["recipes"] if r["name"] == "Sync contacts").items()
    )
    assert steps["import.crm-sync@E-cust-0002/50002"]["status"] == "succeeded"
    markdown = as_md.read_text()
    assert "Sync contacts" in markdown and result in markdown
    failures = _junit_failures(as_xml)
    assert list(failures) == [("E-cust-0001/50001.crm-sync", "Sync contacts")]
    assert result in failures["E-cust-0001/50001.crm-sync", "Sync contacts"]


def test_the_demo_running_recipe_failure_is_reported_everywhere(tmp_path: Path) -> None:
    world = World(tmp_path / "world")
    as_json, as_md, as_xml = _reports(tmp_path)

    run = world.apply("--report", as_json, "--report", as_md, "--report", as_xml)

    assert run.exit_code == 3
    why = "running recipes would be updated: Sync accounts"
    assert why in run.stdout
    report = json.loads(as_json.read_text())
    assert report["exit_code"] == 3
    failed = [s for s in report["steps"] if s["status"] == "failed"]
    assert [s["address"] for s in failed] == [f"import.crm-sync@{UMBRELLA}"]
    assert why in failed[0]["message"]
    # billing-alerts needs only shared-connections, so it still ran there
    done = {s["address"]: s["status"] for s in report["steps"]}
    assert done[f"import.billing-alerts@{UMBRELLA}"] == "succeeded"
    assert why in as_md.read_text()
    failures = _junit_failures(as_xml)
    assert len(failures) == 1
    ((classname, _name), message), *_ = failures.items()
    assert classname == f"{UMBRELLA}.crm-sync"
    assert ET.parse(as_xml).getroot().get("failures") == "1"
    assert message  # the reason is carried by the failure element


def test_a_failed_import_skips_its_dependents_on_that_target_only(tmp_path: Path) -> None:
    world = World(tmp_path / "world")
    manifests = (world.config / "manifests.yaml").read_text()
    # billing-alerts now also needs crm-sync, which E-umbrella's running recipe blocks
    world.write(
        "manifests.yaml",
        manifests.replace(
            "folder_id: 114\ndepends_on: [shared-connections]",
            "folder_id: 114\ndepends_on: [shared-connections, crm-sync]",
        ),
    )
    as_json, _, as_xml = _reports(tmp_path)

    run = world.apply("--report", as_json, "--report", as_xml)

    assert run.exit_code == 3
    steps = {s["address"]: s for s in json.loads(as_json.read_text())["steps"]}
    skipped = steps[f"import.billing-alerts@{UMBRELLA}"]
    assert skipped["status"] == "skipped"
    assert f"import.crm-sync@{UMBRELLA} failed" in skipped["message"]
    others = [a for a in steps if a.startswith("import.billing-alerts@") and UMBRELLA not in a]
    assert len(others) == 12 and all(steps[a]["status"] == "succeeded" for a in others)
    assert not [j for j in world.sim.jobs("import") if j["params"]["folder_id"] == 2401][2:]
    assert f"import.crm-sync@{UMBRELLA} failed" in run.stdout
    root = ET.parse(as_xml).getroot()
    assert int(root.get("skipped", "0")) >= 1


def test_a_failed_export_skips_every_import_of_its_manifest(deployed: World) -> None:
    deployed.sim.bump_recipe_version("E-template", "Sync contacts")
    deployed.sim.fail_next_export("E-template", "Export failed: the manifest is broken")

    run = deployed.apply("--format", "json")

    assert run.exit_code == 3
    steps = {s["address"]: s for s in json.loads(run.stdout)["steps"]}
    assert steps["export.crm-sync"]["status"] == "failed"
    assert "the manifest is broken" in steps["export.crm-sync"]["message"]
    for target in ("E-cust-0001/50001", "E-cust-0002/50002"):
        step = steps[f"import.crm-sync@{target}"]
        assert step["status"] == "skipped"
        assert "export.crm-sync failed" in step["message"]
    assert deployed.sim.request_counts().get("import", 0) == 6  # only the first apply's

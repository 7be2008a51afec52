"""`rlcm plan` on an empty state, through the real CLI against the seeded simulator."""

from __future__ import annotations

import json

from e2e_world import DemoWorld, RunCli

MANIFESTS = ("shared-connections", "crm-sync", "billing-alerts")
SUMMARY = (
    "Plan: 3 manifests to create, 3 exports, 39 imports across 13 targets "
    "(wave canary: 3, wave main: 36)."
)


def test_empty_state_plans_every_create(demo_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("plan")
    assert result.exit_code == 0, result.stderr
    for name in MANIFESTS:
        assert f"+ manifest.{name}" in result.stdout
        assert f"+ export.{name}" in result.stdout
        assert f"+ import.{name}@acme" in result.stdout
        assert f"+ import.{name}@E-soylent/3201" in result.stdout
    assert result.stdout.count("+ import.") == 39
    assert result.stdout.count("# never imported") == 39
    assert SUMMARY in result.stdout
    assert result.stderr == ""


def test_plan_only_reads(demo_config: DemoWorld, run_cli: RunCli) -> None:
    demo_config.sim.set_request_logging(True)
    assert run_cli("plan").exit_code == 0
    assert not demo_config.state_path.exists()
    # a never-imported target needs no folder_assets read (the scarce quota): 3 source
    # folders; its pre-flight is one customer and one folder check in cheaper buckets
    assert demo_config.sim.request_counts() == {
        "folder_assets": 3,
        "recipes_list": 13,  # 13 customers
        "folders_list": 13,  # 13 target folders
    }


def test_plan_json_is_versioned_and_complete(demo_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("plan", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["kind"] == "rlcm-plan"
    assert isinstance(doc["format_version"], int)
    addresses = [c["address"] for c in doc["changes"]]
    assert len(addresses) == 3 + 3 + 39
    assert len(set(addresses)) == len(addresses)
    assert {c["action"] for c in doc["changes"] if c["kind"] == "manifest"} == {"create"}
    assert SUMMARY in json.dumps(doc["summary"])
    # execution order: a change comes after everything it depends on
    seen: set[str] = set()
    for change in doc["changes"]:
        assert set(change["depends_on"]) <= seen, change["address"]
        seen.add(change["address"])


def test_plan_markdown_has_the_summary_table(demo_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("plan", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "| manifest create | 3 |" in text
    assert "| export | 3 |" in text
    assert "| import, wave canary | 3 |" in text
    assert "| import, wave main | 36 |" in text
    assert "<details>" in text
    assert len(text) < 65_536


def test_detailed_exitcode_is_2_with_changes(demo_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("plan", "--detailed-exitcode")
    assert result.exit_code == 2
    assert SUMMARY in result.stdout


def test_detailed_exitcode_is_0_without_changes(applied_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "No changes" in result.stdout
    assert run_cli("plan", "--detailed-exitcode", "--format", "json").exit_code == 0


def test_target_glob_narrows_and_pulls_in_dependencies(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    result = run_cli("plan", "--format", "json", "--target", "import.*@acme")
    assert result.exit_code == 0, result.stderr
    addresses = {c["address"] for c in json.loads(result.stdout)["changes"]}
    expected = {f"import.{m}@acme" for m in MANIFESTS}
    expected |= {f"export.{m}" for m in MANIFESTS} | {f"manifest.{m}" for m in MANIFESTS}
    assert addresses == expected


def test_target_one_import_pulls_in_its_depends_on(demo_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("plan", "--target", "import.crm-sync@E-globex/2211")
    assert result.exit_code == 0, result.stderr
    assert "+ import.crm-sync@E-globex/2211" in result.stdout
    assert "+ import.shared-connections@E-globex/2211" in result.stdout  # depends_on
    assert "import.billing-alerts" not in result.stdout
    assert "@acme" not in result.stdout
    assert "manifest.billing-alerts" not in result.stdout


def test_target_matching_nothing_is_said(demo_config: DemoWorld, run_cli: RunCli) -> None:
    result = run_cli("plan", "--target", "import.*@nobody")
    assert result.exit_code == 1
    assert "--target import.*@nobody matches no address of this config" in result.stderr


def test_no_refresh_targets_says_so(demo_config: DemoWorld, run_cli: RunCli) -> None:
    for fmt in ("text", "markdown"):
        result = run_cli("plan", "--no-refresh-targets", "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert "target folders were not refreshed" in result.stdout.lower(), fmt
    doc = json.loads(run_cli("plan", "--no-refresh-targets", "--format", "json").stdout)
    assert doc["refreshed_targets"] is False

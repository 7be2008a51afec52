"""Small things a new user trips over in plan and apply output."""

from __future__ import annotations

from pathlib import Path

from e2e_world import DemoWorld, RunCli


def test_a_first_saved_plan_made_stale_says_why_in_plain_words(
    demo_config: DemoWorld, run_cli: RunCli, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert run_cli("plan", "--out", str(saved), "-q").exit_code == 0
    assert run_cli("apply", "--auto-approve", "-q", "--target", "manifest.shared-connections")\
        .exit_code == 0  # fmt: skip
    result = run_cli("apply", str(saved), "--auto-approve")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "Error: saved plan is stale: it was made before the first apply wrote any state, "
        "and state has been written since (serial "
    )
    assert "lineage" not in line


def test_one_import_is_singular_everywhere(
    demo_config: DemoWorld, run_cli: RunCli, tmp_path: Path
) -> None:
    report = tmp_path / "r.md"
    result = run_cli("apply", "--auto-approve", "--target", "import.shared-connections@acme",
                     "--report", str(report))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Apply: 1 import succeeded, 0 failed" in result.stdout
    assert "Wave canary: 1 target, 1 import succeeded" in report.read_text()
    assert "wave canary started (1 step)" in result.stderr
    assert "1 wave of imports" in result.stderr


def test_a_successful_recipe_result_is_glossed_in_plain_words(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    result = run_cli("apply", "--auto-approve", "--target", "import.crm-sync@acme")
    assert result.exit_code == 0, result.stderr
    assert (
        "Sync accounts: no_update_or_update_without_restart (imported; no restart was needed)"
    ) in result.stdout
    assert result.stdout.count("(imported; no restart was needed)") == 1  # once, not per line

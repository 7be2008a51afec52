"""What a reviewer reads in a plan: a new manifest's contents, --diff-content's steps and
what it could not compare, and a --target that matches nothing."""

from __future__ import annotations

import pytest
from e2e_world import DemoWorld, RunCli


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_manifest_create_shows_its_assets_and_versions(
    demo_config: DemoWorld, run_cli: RunCli, fmt: str
) -> None:
    result = run_cli("plan", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    for line in (
        "+ folder_id: 112",
        "+ include_tags: true",
        "+ assets[recipe:Sync accounts]: version 4 (pinned)",
        "+ assets[recipe:Sync contacts]: version 2 (latest)",
        "+ assets[lookup_table:Account mappings]: version 1 (latest)",
        "+ assets[connection:Salesforce]\n",
        "+ assets[recipe:Invoice overdue alert]: version 3 (auto-generated)",
    ):
        assert line in result.stdout, (fmt, line)


def test_a_target_typo_is_an_error_with_a_suggestion(
    demo_config: DemoWorld, run_cli: RunCli
) -> None:
    for command in (("plan",), ("apply", "--auto-approve")):
        result = run_cli(*command, "--target", "import.crm-sync@acm")
        assert result.exit_code == 1, command
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("Error: --target import.crm-sync@acm matches no address")
        assert "did you mean import.crm-sync@acme" in line
    assert not demo_config.state_path.exists()  # nothing was applied
    named = run_cli("plan", "--target", "acme")  # a target's name, not a change's address
    assert named.exit_code == 1
    assert "for every change of acme, use --target 'import.*@acme'" in named.stderr


def test_a_target_that_is_up_to_date_is_a_warning(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    result = run_cli("plan", "--target", "import.*@acme")
    assert result.exit_code == 0, result.stderr
    assert "--target import.*@acme matches no planned change (it is up to date)" in result.stderr

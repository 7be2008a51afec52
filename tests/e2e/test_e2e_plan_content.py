"""`rlcm plan --diff-content`: what changed inside a package, in recipe terms."""

from __future__ import annotations

from e2e_world import DemoWorld, RunCli


def test_diff_content_names_the_recipe_that_changed(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    applied_config.sim.bump_recipe_version("E-template", "Sync contacts")

    result = run_cli("plan", "--diff-content")

    assert result.exit_code == 0, result.stderr
    section = result.stdout.split("Content changes:")[1]
    assert "crm-sync (package" in section
    assert "Sync contacts" in section
    assert "edited_in_ui" in section


def test_diff_content_in_markdown_is_a_details_block(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    applied_config.sim.bump_recipe_version("E-template", "Sync contacts")

    result = run_cli("plan", "--diff-content", "--format", "markdown")

    assert result.exit_code == 0, result.stderr
    assert "### Content changes" in result.stdout
    assert "<details><summary>crm-sync" in result.stdout


def test_diff_content_without_a_cached_package_says_so(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    for cached in (applied_config.root / ".rlcm" / "cache").glob("*.zip"):
        cached.unlink()
    applied_config.sim.bump_recipe_version("E-template", "Sync contacts")

    result = run_cli("plan", "--diff-content")

    assert "no earlier package in the local cache" in result.stdout

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
    applied_config.sim.clear_request_log()

    result = run_cli("plan", "--diff-content")

    assert "crm-sync:\n    nothing to compare with: package " in result.stdout
    assert "is not in the local cache" in result.stdout
    assert "a CI job has none unless it keeps that directory" in result.stdout
    # checked before exporting: no export was spent on a preview of nothing
    assert applied_config.sim.request_counts().get("export", 0) == 0


def test_diff_content_says_when_no_export_is_planned(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    for fmt, head in (("text", "Content changes:\n  "), ("markdown", "### Content changes\n\n")):
        result = run_cli("plan", "--diff-content", "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert f"{head}nothing to compare: the plan exports no package" in result.stdout, fmt


def test_diff_content_numbers_steps_as_the_recipe_editor_does(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    """The trigger (JSON number 0) reads as step 1, its first action (number 1) as step 2."""
    applied_config.sim.bump_recipe_version("E-template", "Sync contacts")  # edits the trigger
    result = run_cli("plan", "--diff-content")
    assert "recipe Sync contacts: step 1 trigger salesforce/new_custom_object: " in result.stdout
    assert "step 0" not in result.stdout

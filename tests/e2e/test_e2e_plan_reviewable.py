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

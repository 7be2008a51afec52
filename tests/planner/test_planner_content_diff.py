"""Content diffs of package zips, in recipe terms."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from reconciler.content.diff import diff_packages
from reconciler.errors import PackageError


def package(files: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content if isinstance(content, bytes) else json.dumps(content))
    return buffer.getvalue()


def recipe(
    sobject: str = "Account", *, notify: bool = False, account: str = "Salesforce"
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {"number": 1, "keyword": "action", "provider": "salesforce", "name": "search_records",
         "as": "search", "uuid": "u-1", "input": {"sobject": sobject}},
    ]  # fmt: skip
    if notify:
        steps.append(
            {"number": 2, "keyword": "action", "provider": "slack", "name": "post_message",
             "as": "post", "uuid": "u-2", "input": {"text": "synced"}}
        )  # fmt: skip
    return {
        "name": "Sync accounts",
        "description": "Accounts from Salesforce",
        "version": 4,
        "private": False,
        "concurrency": 1,
        "code": {"number": 0, "keyword": "trigger", "provider": "clock", "name": "scheduled_event",
                 "as": "tick", "uuid": "u-0", "input": {}, "block": steps},
        "config": [
            {"keyword": "application", "provider": "salesforce", "skip_validation": False,
             "account_id": {"zip_name": "salesforce.connection.json", "name": account,
                            "folder": ""}},
        ],
    }  # fmt: skip


def sentences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [c.sentence for c in diff_packages(package(old), package(new))]


def test_a_changed_step_input_reads_in_recipe_terms() -> None:
    assert sentences(
        {"sync_accounts.recipe.json": recipe()},
        {"sync_accounts.recipe.json": recipe("Contact")},
    ) == [
        "recipe Sync accounts: step 2 action salesforce/search_records: input.sobject changed "
        '"Account" -> "Contact"'
    ]


def test_an_added_step_is_one_change_and_the_version_alone_is_not_one() -> None:
    new = recipe(notify=True)
    new["version"] = 5
    assert sentences({"r.recipe.json": recipe()}, {"r.recipe.json": new}) == [
        "recipe Sync accounts: step 3 action slack/post_message added"
    ]


def test_a_removed_step() -> None:
    assert sentences({"r.recipe.json": recipe(notify=True)}, {"r.recipe.json": recipe()}) == [
        "recipe Sync accounts: step 3 action slack/post_message removed"
    ]


def test_a_changed_connection_in_config() -> None:
    changes = diff_packages(
        package({"r.recipe.json": recipe()}),
        package({"r.recipe.json": recipe(account="Salesforce (prod)")}),
    )
    assert [c.sentence for c in changes] == [
        'recipe Sync accounts: config salesforce: connection changed "Salesforce" -> '
        '"Salesforce (prod)"'
    ]
    assert changes[0].to_dict()["file"] == "r.recipe.json"


def test_files_added_removed_and_non_json_entries() -> None:
    old = {"a/region_codes.lookup_table.json": {"name": "Region codes"}, "app.lcap_app.png": b"1"}
    new = {
        "slack.connection.json": {"name": "Slack", "provider": "slack"},
        "app.lcap_app.png": b"2",
    }
    assert sentences(old, new) == [
        "lookup_table Region codes: removed",
        "lcap_app app: content (not JSON) changed",
        "connection Slack: added",
    ]


def test_other_json_assets_get_a_path_level_diff() -> None:
    old = {"x.lookup_table.json": {"name": "Region codes", "rows": [{"code": "EU"}]}}
    new = {"x.lookup_table.json": {"name": "Region codes", "rows": [{"code": "EMEA"}]}}
    assert sentences(old, new) == ['lookup_table Region codes: rows[0].code changed "EU" -> "EMEA"']


def test_identical_packages_have_no_changes() -> None:
    files = {"r.recipe.json": recipe()}
    assert diff_packages(package(files), package(files)) == []


def test_a_broken_zip_is_a_clear_error() -> None:
    with pytest.raises(PackageError, match="the new package is not a readable zip"):
        diff_packages(package({}), b"not a zip")

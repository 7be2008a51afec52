"""The configuration reference stays current and complete, and `rlcm schema` writes it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config.docgen import (
    KIND_ORDER,
    default_examples_dir,
    kind_definitions,
    reference_markdown,
)
from reconciler.config.schema import config_json_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"


def _fresh() -> str:
    return reference_markdown(config_json_schema(), default_examples_dir())


def _schema_paths(schema: dict[str, Any], definition: dict[str, Any], prefix: str) -> list[str]:
    """Every key path of a kind, walked from the schema independently of docgen."""
    paths: list[str] = []
    for key, prop in definition.get("properties", {}).items():
        path = prefix + key
        paths.append(path)
        target = _deref(schema, prop)
        if "properties" in target:
            paths += _schema_paths(schema, target, path + ".")
        items = _deref(schema, target.get("items", {}))
        if "properties" in items:
            paths += _schema_paths(schema, items, path + "[].")
    return paths


def _deref(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    return schema["$defs"][ref.rsplit("/", 1)[1]] if ref else prop


def _section(text: str, kind: str) -> str:
    match = re.search(rf"^## {kind}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no section for {kind}"
    return match.group(1)


def test_committed_reference_is_up_to_date() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == _fresh(), (
        "docs/configuration.md is stale: run `rlcm schema`"
    )


def test_every_key_of_every_kind_is_documented_in_its_section() -> None:
    schema = config_json_schema()
    text = REFERENCE.read_text(encoding="utf-8")
    missing = [
        f"{kind}: {path}"
        for kind in KIND_ORDER
        for path in _schema_paths(schema, schema["$defs"][f"{kind}Doc"], "")
        if f"| `{path}` |" not in _section(text, kind)
    ]
    assert not missing, f"keys missing from docs/configuration.md: {missing}"
    nested = ("api.rate_limits.", "api.poll.", "assets[].", "auto_generate.", "customers[].")
    for prefix in (*nested, "safety."):
        assert f"`{prefix}" in text


def test_each_kind_has_a_yaml_example_that_declares_it() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for kind in KIND_ORDER:
        block = re.search(r"```yaml\n(.*?)```", _section(text, kind), re.DOTALL)
        assert block, f"{kind} has no example"
        assert f"kind: {kind}\n" in block.group(1)


def test_cross_key_rules_are_stated() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert "Give exactly one of `api.base_url` or `api.data_center`." in text
    assert "`api.email_env` is required when `api.auth` is `legacy`." in text
    assert "Give exactly one of `assets` or `auto_generate`." in text


def test_generation_is_deterministic_and_follows_the_schema() -> None:
    schema = config_json_schema()
    assert reference_markdown(schema, default_examples_dir()) == _fresh()
    assert list(kind_definitions(schema)) == list(KIND_ORDER)
    schema["$defs"]["RolloutDoc"]["properties"]["max_parallel"]["description"] = "Changed."
    assert "| `max_parallel` | integer, ≥ 1 | no | `8` | Changed. |" in reference_markdown(schema)


def test_a_reference_without_examples_has_no_example_blocks() -> None:
    assert "```yaml\nkind:" not in reference_markdown(config_json_schema(), None)


def test_schema_command_writes_schema_and_reference(tmp_path: Path) -> None:
    out, docs = tmp_path / "schemas", tmp_path / "docs"
    result = CliRunner().invoke(cli, ["schema", "--out", str(out), "--docs", str(docs)])
    assert result.exit_code == 0, result.output
    assert (out / "rlcm.schema.json").read_text(encoding="utf-8") == schema_text()
    assert (docs / "configuration.md").read_text(encoding="utf-8") == _fresh()
    assert f"Wrote {docs / 'configuration.md'}" in result.output
    assert not [p for p in docs.iterdir() if p.name.startswith(".")]  # no temp file left


def test_schema_command_names_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(
        cli, ["schema", "--out", str(tmp_path / "s"), "--docs", str(blocker / "docs")]
    )
    assert result.exit_code == 1
    assert "cannot write" in result.output and "configuration.md" in result.output
    assert "Traceback" not in result.output

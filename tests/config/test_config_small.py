"""Small things a new user trips over in the config: an empty trailing document, a path
that does not exist, one customer written two ways."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config import load_config

Write = Callable[..., Path]


def test_a_trailing_document_separator_is_not_an_error(write: Write, base_yaml: str) -> None:
    path = write(base_yaml + "---\n# the end\n---\n")
    assert sorted(load_config(path).desired.manifests) == ["crm", "shared"]


def test_an_explicit_null_document_is_still_refused(write: Write, base_yaml: str) -> None:
    result = CliRunner().invoke(cli, ["validate", "-c", str(write(base_yaml + "---\nnull\n"))])
    assert result.exit_code == 1
    assert "got nothing (null)" in result.stderr


def test_a_missing_config_path_is_an_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "-c", str(tmp_path / "doesnotexist")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'doesnotexist'}: no such file or directory\n"


def test_positioned_config_errors_keep_file_line_col_first(write: Write) -> None:
    path = write("kind: Nope\n")
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:1:")


def test_one_customer_written_as_a_number_and_an_external_id_is_a_warning(
    write: Write, base_yaml: str
) -> None:
    path = write(
        base_yaml + "---\nkind: Fleet\nname: f\nworkspace: partner\nmanifests: [shared]\n"
        "customers:\n  - {customer: E-acme-001, folder_id: 1827}\n"
        '  - {customer: "92001", folder_id: 1827}\n  - {customer: E-globex, folder_id: 2211}\n'
    )
    warnings = [w.message for w in load_config(path).warnings]
    assert len(warnings) == 1
    assert 'folder 1827 is also target "E-acme-001/1827"' in warnings[0]
    assert "if 92001 is the numeric id of E-acme-001, both are one folder" in warnings[0]

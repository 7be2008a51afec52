"""The YAML loader: every kind of bad file gives file:line:col errors, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.config import load_desired

Errors = Callable[[Path], list[str]]
Write = Callable[..., Path]


def test_a_directory_is_read_in_name_order_and_documents_are_split(
    write: Write, base_yaml: str
) -> None:
    parts = base_yaml.split("---\nkind: Manifest")
    write(parts[0], "a.yaml")
    write("kind: Manifest" + parts[1], "b.yml")
    write("not: yaml config", "notes.txt")
    desired = load_desired(write("", "c.yaml").parent)
    assert list(desired.manifests) == ["shared"]
    assert [Path(f).name for f in desired.files] == ["a.yaml", "b.yml", "c.yaml"]


def test_syntax_error_names_line_and_column(write: Write, errors_of: Errors) -> None:
    path = write("kind: Workspace\nname: [partner\napi: {}\n")
    (line,) = errors_of(path)
    assert line.startswith("config.yaml:3:4: invalid YAML:")


def test_tab_indentation_is_reported_with_its_position(write: Write, errors_of: Errors) -> None:
    path = write("kind: Workspace\napi:\n\tbase_url: x\n")
    assert errors_of(path) == ["config.yaml:3:1: tab character: YAML must be indented with spaces"]


def test_duplicate_keys_are_errors(write: Write, errors_of: Errors) -> None:
    path = write("kind: Source\nworkspace: a\nworkspace: b\n")
    assert errors_of(path) == ['config.yaml:3:1: duplicate key "workspace" (first at line 2)']


def test_python_tags_are_refused(write: Write, errors_of: Errors) -> None:
    path = write("kind: Source\nworkspace: !!python/object:os.system {}\n")
    assert errors_of(path) == [
        'config.yaml:2:12: YAML tag "!!python/object:os.system" is not allowed (only plain data)'
    ]


def test_custom_local_tags_are_refused(write: Write, errors_of: Errors) -> None:
    path = write("kind: Source\nworkspace: !env TOKEN\n")
    assert errors_of(path) == ['config.yaml:2:12: YAML tag "!env" is not allowed (only plain data)']


def test_alias_bomb_is_refused(write: Write, errors_of: Errors) -> None:
    lines = ["kind: Source", 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    path = write("\n".join(lines) + "\n")
    assert errors_of(path) == [
        "config.yaml:1:1: document expands to more than 100,000 nodes through its YAML aliases"
    ]


def test_recursive_alias_is_refused(write: Write, errors_of: Errors) -> None:
    path = write("kind: Source\nworkspace: &a [*a]\n")
    assert errors_of(path) == ["config.yaml:2:12: recursive YAML alias"]


def test_deep_nesting_is_refused(write: Write, errors_of: Errors) -> None:
    path = write("kind: Source\nworkspace: " + "[" * 70 + "]" * 70 + "\n")
    (line,) = errors_of(path)
    assert line.startswith("config.yaml:2:")
    assert "nesting deeper than 64 levels" in line


def test_pathologically_deep_nesting_is_refused(write: Write, errors_of: Errors) -> None:
    path = write("kind: Source\nworkspace: " + "[" * 5000 + "]" * 5000 + "\n")
    (line,) = errors_of(path)
    assert "nesting deeper than 64 levels" in line


def test_files_over_two_megabytes_are_refused(write: Write, errors_of: Errors) -> None:
    path = write("# " + "x" * (2 * 1024 * 1024) + "\n")
    assert errors_of(path) == ["config.yaml: file is larger than 2 MB"]


def test_non_utf8_file_names_the_bad_byte(tmp_path: Path, errors_of: Errors) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"kind: Source\nworkspace: caf\xe9\n")
    assert errors_of(path) == ["config.yaml:2:15: file is not valid UTF-8 (byte 0xe9)"]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    from reconciler.errors import ConfigErrors

    try:
        load_desired(tmp_path)
    except ConfigErrors as exc:
        assert exc.lines() == [f"{tmp_path}: no *.yaml or *.yml files in this directory"]
    else:
        raise AssertionError("an empty directory loaded")


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    from reconciler.errors import ConfigErrors

    missing = tmp_path / "nope"
    try:
        load_desired(missing)
    except ConfigErrors as exc:
        assert exc.lines() == [f"{missing}: no such file or directory"]
    else:
        raise AssertionError("a missing path loaded")


def test_a_document_that_is_not_a_mapping(write: Write, errors_of: Errors) -> None:
    path = write("kind: Source\nworkspace: partner\n---\n- a\n- b\n")
    assert "config.yaml:4:1: a config document must be a mapping with a kind, got a list" in (
        errors_of(path)
    )


def test_errors_of_several_files_are_all_reported(write: Write, errors_of: Errors) -> None:
    write("kind: Source\nworkspace: a\nworkspace: b\n", "a.yaml")
    path = write("kind: Workspace\n\tname: x\n", "b.yaml")
    lines = errors_of(path.parent)
    assert any(line.startswith("a.yaml:3:1: duplicate key") for line in lines)
    assert any(line.startswith("b.yaml:2:1: tab character") for line in lines)


def test_anchors_aliases_and_merge_keys_give_plain_data(write: Write, base_yaml: str) -> None:
    text = base_yaml + (
        "---\n"
        "kind: Fleet\n"
        "name: f\n"
        "workspace: partner\n"
        "manifests: &both [shared, crm]\n"
        "customers:\n"
        "  - &first {customer: E-a, folder_id: 1, manifests: *both, restart_recipes: true}\n"
        "  - {<<: *first, customer: E-b}\n"
    )
    desired = load_desired(write(text))
    assert desired.targets["E-a/1"].manifests == ("shared", "crm")
    second = desired.targets["E-b/1"]
    assert (second.customer, second.restart_recipes) == ("E-b", True)


def test_a_fleet_too_big_for_one_document_says_so_not_aliases(
    write: Write, errors_of: Errors, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fleet of 40,000 customers (200,000 nodes) was refused as "too many aliases?".
    The same document at a tenth of the node limit, so that parsing it stays fast."""
    from reconciler.config import loader

    monkeypatch.setattr(loader, "MAX_NODES", 1_000)
    customers = "\n".join(f"  - {{customer: E-{i}, folder_id: {i}}}" for i in range(400))
    path = write(f"kind: Fleet\nname: big\nworkspace: partner\ncustomers:\n{customers}\n")
    [error] = errors_of(path)
    assert error.startswith("config.yaml:1:1: document has more than 1,000 YAML nodes")
    assert "alias" not in error and "split it into several documents" in error

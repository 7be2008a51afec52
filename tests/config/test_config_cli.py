"""`rlcm validate` and `rlcm schema` as a user runs them, and the committed examples."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config.loader import YamlMap, load_documents
from reconciler.config.schema import config_json_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*/*.yaml"))
SCHEMA_FILE = ROOT / "schemas" / "rlcm.schema.json"
Write = Callable[..., Path]


def test_validate_prints_a_summary_of_the_examples() -> None:
    result = CliRunner().invoke(cli, ["validate", "-c", str(EXAMPLES / "manifests")])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Valid: 1 workspace, 3 manifests, 13 targets (wave canary: 1, wave main: 12) in 6 files\n"
    )


def test_own_workspace_example_is_valid() -> None:
    result = CliRunner().invoke(cli, ["validate", "-c", str(EXAMPLES / "own-workspace")])
    assert result.exit_code == 0, result.stderr
    assert "2 targets (wave staging: 1, wave production: 1)" in result.stdout


def _broken(write: Write) -> Path:
    return write("kind: Manifest\nname: crm-sync\nfolder_id: x\nasets: []\n")


def test_validate_prints_every_error_and_exits_1(write: Write) -> None:
    path = _broken(write)
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f'{path}:3:12: manifest "crm-sync": folder_id: expected a whole number, got "x"',
        f'{path}:4:1: manifest "crm-sync": unknown key "asets" (did you mean "assets"?)',
    ]


def test_validate_json(write: Write) -> None:
    path = _broken(write)
    result = CliRunner().invoke(cli, ["validate", "-c", str(path), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["errors"][1] == {
        "file": str(path),
        "line": 4,
        "col": 1,
        "message": 'manifest "crm-sync": unknown key "asets" (did you mean "assets"?)',
    }
    ok = CliRunner().invoke(
        cli, ["validate", "-c", str(EXAMPLES / "manifests"), "--format", "json"]
    )
    summary = json.loads(ok.stdout)["summary"]
    assert summary["targets"] == 13
    assert summary["waves"] == {"canary": 1, "main": 12}


def test_validate_github_annotations(write: Write) -> None:
    path = _broken(write)
    result = CliRunner().invoke(cli, ["validate", "-c", str(path), "--format", "github"])
    assert result.exit_code == 1
    assert (
        f'::error file={path},line=4,col=1::manifest "crm-sync": unknown key "asets"'
        ' (did you mean "assets"?)'
    ) in result.stdout.splitlines()


def test_validate_does_not_import_network_or_rendering_libraries() -> None:
    code = (
        "import sys\nfrom reconciler.cli import main\n"
        f"sys.argv=['rlcm','validate','-c',{str(EXAMPLES / 'manifests')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('HEAVY:' + ','.join(m for m in ('httpx', 'rich', 'deepdiff') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "schemas/rlcm.schema.json is stale: run `rlcm schema`"
    )


def test_schema_command_writes_the_file(tmp_path: Path) -> None:
    out, docs = str(tmp_path / "out"), str(tmp_path / "docs")
    result = CliRunner().invoke(cli, ["schema", "--out", out, "--docs", docs])
    assert result.exit_code == 0
    assert (tmp_path / "out" / "rlcm.schema.json").read_text() == schema_text()
    assert schema_text() == schema_text()  # deterministic


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_files_carry_the_modeline_and_match_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    relative = Path("..", "..", "schemas", "rlcm.schema.json").as_posix()
    assert first == f"# yaml-language-server: $schema={relative}"
    assert (path.parent / relative).resolve() == SCHEMA_FILE
    documents, errors, _ = load_documents(path)
    assert errors == []
    validator = jsonschema.Draft202012Validator(config_json_schema())
    for document in documents:
        assert isinstance(document.data, YamlMap)
        validator.validate(json.loads(json.dumps(document.data)))


@pytest.mark.parametrize(
    "document",
    [
        {"kind": "Manifest", "name": "a", "folder_id": 1},
        {"kind": "Manifest", "name": "a", "folder_id": 1, "asets": []},
        {"kind": "Target", "workspace": "w", "folder_id": "1", "manifests": ["a"]},
        {"kind": "Workspace", "name": "w", "api": {"auth": "legacy", "data_center": "us"}},
        {"kind": "Rollout", "waves": ["a"], "max_parallel": 0},
    ],
)
def test_schema_rejects_what_rlcm_rejects(document: dict[str, object]) -> None:
    validator = jsonschema.Draft202012Validator(config_json_schema())
    assert not validator.is_valid(document)


def test_every_schema_property_has_a_description() -> None:
    schema = config_json_schema()
    for name, definition in schema["$defs"].items():
        for key, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{key} has no description"


@pytest.mark.parametrize(
    ("file", "old", "new", "where"),
    [
        # one missing `}` in a Fleet: the Rollout later in the same file used to be lost too
        ("fleet-emea.yaml", "folder_id: 2211}", "folder_id: 2211", "fleet-emea.yaml:11:"),
        # a bad indent in a Manifest: a dozen `unknown manifest` errors used to follow
        ("manifests.yaml", "\nfolder_id: 112", "\n  folder_id: 112", "manifests.yaml:13:"),
    ],
)
def test_a_yaml_syntax_error_is_reported_alone(
    tmp_path: Path, file: str, old: str, new: str, where: str
) -> None:
    config = tmp_path / "config"
    shutil.copytree(
        EXAMPLES / "manifests", config, ignore=shutil.ignore_patterns(".*", "rlcm.state.json*")
    )
    if file == "fleet-emea.yaml":  # the Rollout goes into the Fleet's file
        rollout = (config / "rollout.yaml").read_text()
        (config / "rollout.yaml").unlink()
        (config / file).write_text((config / file).read_text() + "---\n" + rollout)
    text = (config / file).read_text()
    assert old in text
    (config / file).write_text(text.replace(old, new, 1))
    result = CliRunner().invoke(cli, ["validate", "-c", str(config)])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert where in line and "invalid YAML" in line

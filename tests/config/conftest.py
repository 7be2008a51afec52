"""Fixtures for the config tests: write YAML into a temp dir, load it, read the errors."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.config import LoadedConfig, load_config
from reconciler.errors import ConfigErrors

BASE = """\
kind: Workspace
name: partner
api:
  base_url: sim://.rlcm/sim
---
kind: Source
workspace: partner
managed_user: E-template
---
kind: Manifest
name: shared
folder_id: 110
assets:
  - {type: connection, name: Salesforce}
---
kind: Manifest
name: crm
folder_id: 112
depends_on: [shared]
assets:
  - {type: recipe, name: Sync accounts, version: 4}
"""


@pytest.fixture
def base_yaml() -> str:
    """A small valid config: one workspace, a source, two manifests (crm needs shared)."""
    return BASE


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(text, name="config.yaml") -> the file's path (text is dedented)."""

    def _write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def errors_of() -> Callable[[Path], list[str]]:
    """The error lines of loading `path`, with the temp dir's path shortened to the name."""

    def _errors(path: Path) -> list[str]:
        with pytest.raises(ConfigErrors) as info:
            load_config(path)
        prefix = str(path.parent if path.is_file() else path) + "/"
        return [line.replace(prefix, "") for line in info.value.lines()]

    return _errors


@pytest.fixture
def load() -> Callable[[Path], LoadedConfig]:
    return load_config

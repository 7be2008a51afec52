"""Fixtures of the CI tests: a fresh runner's Python, a user's checkout, a fake GitHub."""

from __future__ import annotations

import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from action_runner import FakeGitHub, fake_github
from ci_world import make_checkout


@pytest.fixture(scope="session")
def runner_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a venv without rlcm, as a fresh runner's Python: it sees this one's
    packages (pip, the build backend, rlcm's dependencies) but has no `rlcm` command until
    the action installs it."""
    venv = tmp_path_factory.mktemp("runner") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (purelib,) = venv.glob("lib/python3*/site-packages")
    (purelib / "runner-base.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    assert not (venv / "bin" / "rlcm").exists()
    return venv / "bin"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_checkout(tmp_path)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        yield fake

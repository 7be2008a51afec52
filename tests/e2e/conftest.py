"""Fixtures of the end-to-end tests: the demo world in a temp dir, driven through the real CLI.

- `demo_config`: `examples/manifests` copied into tmp_path, made fast (small poll
  intervals, generous rate limits), its simulator seeded with the demo world, and
  `WORKATO_API_TOKEN` and `RLCM_CONFIG` set, so `run_cli("plan")` plans it.
- `applied_config`: the same after a successful `rlcm apply --auto-approve` (umbrella's
  running recipe stopped first, so every import succeeds and the next plan is empty).
  The apply runs once per test session and each test gets its own copy.
- `run_cli(*args)`: invoke `rlcm` in process; stdout and stderr come back separately.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_world import TOKEN, TOKEN_ENV, DemoWorld, RunCli, invoke, make_demo


@pytest.fixture(autouse=True)
def _own_quota_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process simulator is `http://workato.sim` to the client, and the process
    keeps one set of quota limiters per base URL and token, rated by the first client:
    a test elsewhere in this worker with Workato's 60/minute would throttle ours."""
    from reconciler.workato import limits

    monkeypatch.setattr(limits, "_REGISTRY", {})


def _use(world: DemoWorld, monkeypatch: pytest.MonkeyPatch) -> DemoWorld:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("RLCM_CONFIG", str(world.root))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return world


@pytest.fixture
def run_cli() -> RunCli:
    return invoke


@pytest.fixture
def demo_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DemoWorld:
    return _use(make_demo(tmp_path / "config"), monkeypatch)


@pytest.fixture(scope="session")
def _applied_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    world = make_demo(tmp_path_factory.mktemp("applied") / "config")
    world.sim.stop_recipe("E-umbrella", "Sync accounts")
    env: dict[str, str | None] = {TOKEN_ENV: TOKEN, "RLCM_CONFIG": str(world.root)}
    from reconciler.workato import limits

    with pytest.MonkeyPatch.context() as patch:  # see _own_quota_limiters
        patch.setattr(limits, "_REGISTRY", {})
        result = invoke("apply", "--auto-approve", "-q", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    yield world.root


@pytest.fixture
def applied_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _applied_template: Path
) -> DemoWorld:
    root = tmp_path / "config"
    shutil.copytree(_applied_template, root)
    return _use(DemoWorld(root), monkeypatch)

"""A new user's walk: the own-workspace example's README, run as written, and the warning
for a `sim://` directory nothing was seeded in."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from e2e_world import TOKEN, TOKEN_ENV, invoke, make_demo

ROOT = Path(__file__).resolve().parents[2]
OWN = ROOT / "examples" / "own-workspace"


def _readme_commands(readme: Path) -> list[list[str]]:
    """The `rlcm ...` lines of the README's sh blocks, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", readme.read_text(encoding="utf-8"), re.DOTALL)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("rlcm ")]


@pytest.fixture
def own_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository as a fresh clone sees it: the example at examples/own-workspace."""
    shutil.copytree(OWN, tmp_path / "examples" / "own-workspace",
                    ignore=shutil.ignore_patterns(".rlcm", "rlcm.state.json*"))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.delenv("RLCM_CONFIG", raising=False)
    return tmp_path


def test_own_workspace_readme_runs_as_written(own_example: Path) -> None:
    commands = _readme_commands(OWN / "README.md")
    assert [c[:2] for c in commands[:2]] == [["sim", "seed"], ["sim", "ids"]]
    outputs = []
    for args in commands:
        result = invoke(*args)
        assert result.exit_code == 0, f"rlcm {shlex.join(args)}: {result.stderr}"
        assert "Warning" not in result.stderr, f"rlcm {shlex.join(args)}: {result.stderr}"
        outputs.append(result.stdout)
    first_plan, last_plan = (o for o, c in zip(outputs, commands, strict=True) if c[0] == "plan")
    assert "1 manifest to create, 1 export, 2 imports" in first_plan
    assert "recipe Nightly export: version 2 -> 3" in last_plan


def test_an_empty_sim_directory_is_named_with_how_to_seed_it(own_example: Path) -> None:
    result = invoke("plan", "-c", "examples/own-workspace")
    assert result.exit_code == 1
    sim_dir = own_example / "examples" / "own-workspace" / ".rlcm" / "sim"
    assert (
        f"Warning: workspace own: sim://{sim_dir} holds no simulator yet (nothing is seeded "
        f"there); seed it with `rlcm sim seed demo --dir {sim_dir}`"
    ) in result.stderr
    seeded = invoke("sim", "seed", "demo", "-c", "examples/own-workspace")
    assert seeded.exit_code == 0, seeded.stderr
    again = invoke("plan", "-c", "examples/own-workspace")
    assert again.exit_code == 0 and "holds no simulator" not in again.stderr


def test_readme_commands_after_the_demo_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README's `rlcm` lines (the quick start's next steps, the simulator's controls) after
    `make demo`, in order, then a plan that shows what the controls did."""
    world = make_demo(tmp_path / "examples" / "manifests")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.delenv("RLCM_CONFIG", raising=False)
    assert invoke("apply", "-c", "examples/manifests", "--auto-approve", "-q").exit_code == 3
    commands = _readme_commands(ROOT / "README.md")
    assert sum(c[0] == "sim" for c in commands) >= 6
    allowed = {"sim": {0}, "plan": {0}, "drift": {0, 2}}
    for args in commands:
        result = invoke(*args)
        assert result.exit_code in allowed[args[0]], f"rlcm {shlex.join(args)}: {result.stderr}"
    bumps = sum(c[:2] == ["sim", "bump-recipe"] for c in commands)
    assert world.sim.asset("E-template", "Sync contacts")["version"] == 2 + bumps
    plan = invoke("plan", "-c", "examples/manifests")
    assert "~ manifest.crm-sync" in plan.stdout  # include_tags edited in the "UI"
    assert f"recipe Sync contacts: version 2 -> {2 + bumps}" in plan.stdout

"""A user's repository for the CI tests: the demo config as `workato/`, made fast, with its
simulator seeded."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from reconciler.simulator import Simulator

__all__ = ["ROOT", "Reference", "bake_the_canary", "load_ci_yaml", "make_checkout"]

ROOT = Path(__file__).resolve().parents[2]
FAST = {
    "poll: {interval: 0.5, max_interval: 5}": "poll: {interval: 0.01, max_interval: 0.05}",
    "rate_limits: {other: 600}": "rate_limits: {other: 100000}",
}


def make_checkout(root: Path) -> Path:
    """`root/workato/` holds examples/manifests with quick polling; returns `root`."""
    config = root / "workato"
    shutil.copytree(
        ROOT / "examples" / "manifests",
        config,
        ignore=shutil.ignore_patterns(".*", "rlcm.state.json*"),
    )
    workspace = config / "workspace.yaml"
    text = workspace.read_text()
    for slow, fast in FAST.items():
        assert slow in text, "examples/manifests/workspace.yaml changed shape"
        text = text.replace(slow, fast)
    workspace.write_text(text)
    Simulator(config / ".rlcm" / "sim").seed_demo()
    return root


def bake_the_canary(checkout: Path, bake: str) -> None:
    """The canary wave of the checkout's Rollout gets `bake:`: an apply with a shorter
    `--max-duration` imports the canary, then stops at the deadline (exit 4) at once."""
    rollout = checkout / "workato" / "rollout.yaml"
    text = rollout.read_text()
    plain = "{name: canary, max_failures: 0}"
    assert plain in text, "examples/manifests/rollout.yaml changed shape"
    rollout.write_text(text.replace(plain, f"{{name: canary, max_failures: 0, bake: {bake}}}"))


class Reference(list[str]):
    """GitLab's `!reference [job, key]`: another job's list, spliced in where it stands."""


class _CiLoader(yaml.SafeLoader):
    pass


_CiLoader.add_constructor(
    "!reference",
    lambda loader, node: Reference(loader.construct_sequence(node)),  # type: ignore[arg-type]
)


def load_ci_yaml(source: Path | str) -> Any:
    """A CI file (or its text) as safe YAML, GitLab's `!reference` tags kept as `Reference`s."""
    text = source.read_text() if isinstance(source, Path) else source
    return yaml.load(text, Loader=_CiLoader)

"""The demo world for end-to-end tests: a fast copy of examples/manifests, and the CLI.

Imported by conftest.py (fixtures) and by the tests (types and helpers).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from pytest import MonkeyPatch

from reconciler.cli import cli
from reconciler.simulator import Simulator
from reconciler.state.model import State
from reconciler.state.store import StateStore

__all__ = [
    "TEMPLATE",
    "TOKEN",
    "TOKEN_ENV",
    "CliResult",
    "DemoWorld",
    "RunCli",
    "add_source_asset",
    "create_ui_manifest",
    "invoke",
    "make_demo",
    "one_manifest_world",
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifests"
TOKEN = "demo-token"
TOKEN_ENV = "WORKATO_API_TOKEN"
TEMPLATE = "E-template"
FAST_API = (
    "  rate_limits: {imports: 100000, import_status: 100000, other: 100000, folders: 100000,"
    " customers: 100000}\n"
    "  poll: {interval: 0.01, max_interval: 0.05}\n"
)


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class DemoWorld:
    """A copy of the demo config in a temp dir, with its own simulator and state."""

    root: Path

    @property
    def sim_dir(self) -> Path:
        return self.root / ".rlcm" / "sim"

    @property
    def sim(self) -> Simulator:
        return Simulator(self.sim_dir)

    @property
    def state_path(self) -> Path:
        return self.root / "rlcm.state.json"

    def state(self) -> State:
        return StateStore(self.state_path).read()

    def manifest_id(self, name: str) -> int:
        return self.state().manifests[name].id


RunCli = Callable[..., CliResult]


def invoke(*args: str, env: dict[str, str | None] | None = None) -> CliResult:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def make_demo(root: Path) -> DemoWorld:
    """Copy the examples to ROOT, speed up their workspace and seed the simulator."""
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(".rlcm", "rlcm.state.json*"))
    workspace = root / "workspace.yaml"
    lines = workspace.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.lstrip().startswith(("rate_limits:", "poll:"))]
    assert len(kept) == len(lines) - 2, "examples/manifests/workspace.yaml changed shape"
    at = next(i for i, line in enumerate(kept) if "token_env:" in line) + 1
    workspace.write_text("".join([*kept[:at], FAST_API, *kept[at:]]), encoding="utf-8")
    Simulator(root / ".rlcm" / "sim").seed_demo()
    return DemoWorld(root)


ONE_MANIFEST = (
    "kind: Workspace\nname: partner\napi:\n  base_url: sim://sim\n  token_env: WORKATO_API_TOKEN\n"
    + FAST_API
    + "---\nkind: Source\nworkspace: partner\nmanaged_user: E-template\n"
    "---\nkind: Manifest\nname: crm\nfolder_id: 112\nauto_generate: {}\n---\n"
)


def one_manifest_world(
    root: Path, monkeypatch: MonkeyPatch, customers: int, fleet: str
) -> Simulator:
    """A simulator seeded with `customers` demo customers at ROOT/sim, and ROOT/rlcm.yaml (the
    config every command reads, through RLCM_CONFIG) with one manifest, `crm` (template
    folder 112), followed by `fleet` (YAML of the Fleet under test)."""
    root.mkdir(parents=True)
    sim = Simulator(root / "sim")
    sim.seed_demo(customers=customers)
    (root / "rlcm.yaml").write_text(ONE_MANIFEST + fleet, encoding="utf-8")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("RLCM_CONFIG", str(root / "rlcm.yaml"))
    return sim


def add_source_asset(world: DemoWorld, asset_type: str, name: str, folder_id: int) -> None:
    """A new asset in a template folder, as if made in the Workato UI."""
    from reconciler.simulator.seed import add_asset

    sim = world.sim
    body = {"name": name, "description": "made in the UI", "code": {}, "config": []}
    with sim._workspace(TEMPLATE) as ws:  # the simulator has no public "new asset" control
        add_asset(sim.engine.store, ws, asset_type, name, folder_id, body)


def create_ui_manifest(world: DemoWorld, name: str, folder_id: int) -> int:
    """A manifest made outside rlcm (in the UI), over the simulator's own API; its id."""
    import httpx

    from reconciler.simulator.transport import SimTransport

    listing = world.sim.folder_assets(TEMPLATE, folder_id)
    assets = [{"id": a["id"], "type": a["type"], "checked": True} for a in listing[:1]]
    body = {"export_manifest": {"name": name, "folder_id": folder_id, "assets": assets}}
    with httpx.Client(
        transport=SimTransport(world.sim_dir), base_url="http://workato.sim"
    ) as client:
        answer = client.post(
            f"/api/managed_users/{TEMPLATE}/export_manifests",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    answer.raise_for_status()
    return int(answer.json()["result"]["id"])

"""The benchmark world: Workato's quotas, job durations and latency, scaled by one factor.

Every duration below is in *simulated* (real Workato) seconds. The simulator divides them
by `time_scale`; so does rlcm's limiter (`rate_limits.time_scale`) and the poll settings
written into the config, so a scaled run is the real run played F times faster.

Only Workato's time is compressed: rlcm's own CPU seconds (Python starting, YAML, the
planner, two processes sharing the machine's cores) are not, and a run's real-time
equivalent (wall x F) counts each of them F times. So each run is played at the largest
F <= `time_scale` that leaves its lower bound `min_scaled_bound` real seconds or more
(`World.for_bound`): a 3-minute apply at F = 1.4, an 8-minute one at 4.1, a 16-minute
drift at 8, a plan bound by one answer's latency in real time.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.simulator import Simulator

MANIFESTS_YAML = Path(__file__).resolve().parent.parent / "examples/manifests/manifests.yaml"
TOKEN_ENV = {"WORKATO_API_TOKEN": "demo-token"}


@dataclass(frozen=True)
class World:
    time_scale: float = 20.0  # F (at most): a simulated minute lasts 60/F real seconds
    # s: no run is compressed so far that its lower bound lasts less (0: every run at F)
    min_scaled_bound: float = 120.0
    job_duration: float = 5.0  # s, every export and import job (Workato: seconds to a minute)
    latency: float = 0.25  # s added to every answer
    quota_imports: int = 1000  # per minute, as Workato publishes them
    quota_import_status: int = 1000
    quota_other: int = 60
    quota_recipes: int = 2000  # the Embedded Recipes API's list and get
    quota_recipe_actions: int = 1000  # its start and stop
    window: float = 60.0  # s, the quota window
    imports_window: float = 60.0  # s, the imports quota's window (3600: per hour)
    max_parallel: int = 32
    # the Workspace's `poll` setting, fitted to the job: the first status poll at the job's
    # duration sees it done (rlcm's defaults, 2 s growing 1.5x to 15 s, suit unknown jobs)
    poll_interval: float = 5.0
    poll_max_interval: float = 5.0
    manifests: int = 3  # imported into every target, one after another
    source_folders: int = 3  # distinct source folders read to resolve assets (110, 112, 114)
    # 1: the demo's three manifests, every target imports them all. More: a catalogue of
    # `products` x `manifests` manifests, each in its own source folder (source_folders
    # must say so), and target i imports the `manifests` of product i mod `products`
    # (one Fleet per product): many "other" calls (a folder read, a create, an export and
    # its status poll per manifest) and a short chain of imports per target
    products: int = 1

    def __post_init__(self) -> None:
        if self.products > 1 and self.source_folders != self.products * self.manifests:
            raise ValueError("a catalogue has one source folder per manifest")

    @property
    def exported(self) -> int:
        """Manifests in the source (created and exported by a first apply)."""
        return self.products * self.manifests

    def real(self, simulated: float) -> float:
        return simulated / self.time_scale

    def for_bound(self, simulated: float) -> World:
        """This world at the time factor for a run whose lower bound is `simulated`
        seconds: the largest F <= time_scale (in tenths, at least 1) at which that bound
        lasts `min_scaled_bound` real seconds or more."""
        if self.min_scaled_bound <= 0:
            return self
        f = math.floor(10 * simulated / self.min_scaled_bound) / 10
        return replace(self, time_scale=min(self.time_scale, max(1.0, f)))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


TEMPLATE = "E-template"  # the source: the simulator's template managed user


def catalogue(world: World) -> list[tuple[str, list[str]]]:
    """(product, its manifests) of a catalogue world; each manifest's source folder and
    its one lookup table are named after it."""
    width = len(str(world.products))
    return [
        (f"p{p:0{width}d}", [f"p{p:0{width}d}-m{j}" for j in range(1, world.manifests + 1)])
        for p in range(1, world.products + 1)
    ]


def write_config(
    directory: Path, base_url: str, customers: int, world: World, sim: Simulator | None = None
) -> Path:
    """A config dir: the demo's manifests, a Fleet of E-cust-0001.. and one wave (or, in a
    catalogue world, its manifests and one Fleet per product: `sim` tells their folders)."""
    directory.mkdir(parents=True, exist_ok=True)
    f = world.time_scale
    (directory / "workspace.yaml").write_text(
        "kind: Workspace\nname: partner\napi:\n"
        f"  base_url: {base_url}\n  auth: bearer\n  token_env: WORKATO_API_TOKEN\n"
        f"  rate_limits: {{time_scale: {f:g}}}\n"
        f"  poll: {{interval: {world.poll_interval / f:.6g}, "
        f"max_interval: {world.poll_max_interval / f:.6g}}}\n"
        "---\nkind: Source\nworkspace: partner\nmanaged_user: E-template\n"
    )
    if world.products > 1:
        if sim is None:
            raise ValueError("a catalogue world's config needs the simulator (its folders)")
        _write_catalogue(directory, customers, world, sim)
    else:
        (directory / "manifests.yaml").write_text(MANIFESTS_YAML.read_text())
        names = ["shared-connections", "crm-sync", "billing-alerts"]
        (directory / "fleet.yaml").write_text(_fleet("bench", names, range(1, customers + 1)))
    (directory / "rollout.yaml").write_text(
        f"kind: Rollout\nwaves: [main]\nmax_parallel: {world.max_parallel}\n"
    )  # one wave and no emergency brake: every target runs, whatever fails
    return directory


def _fleet(name: str, manifests: list[str], customers: Iterable[int]) -> str:
    lines = [
        "kind: Fleet",
        f"name: {name}",
        "workspace: partner",
        f"manifests: [{', '.join(manifests)}]",
        "restart_recipes: true",
        "wave: main",
        "customers:",
    ]
    lines += [f"  - {{customer: E-cust-{i:04d}, folder_id: {50_000 + i}}}" for i in customers]
    return "\n".join(lines) + "\n"


def _write_catalogue(directory: Path, customers: int, world: World, sim: Simulator) -> None:
    folders = {f["name"]: int(f["id"]) for f in sim.folders(TEMPLATE).values()}
    docs, fleets = [], []
    for index, (product, names) in enumerate(catalogue(world)):
        for name in names:
            docs.append(
                f"kind: Manifest\nname: {name}\nfolder_id: {folders[name]}\n"
                f"assets:\n  - {{type: lookup_table, name: {name} codes}}\n"
            )
        mine = range(index + 1, customers + 1, world.products)  # target i: product i mod P
        if mine:
            fleets.append(_fleet(product, names, mine))
    (directory / "manifests.yaml").write_text("---\n".join(docs))
    (directory / "fleet.yaml").write_text("---\n".join(fleets))


# The simulator's files stand for Workato's servers, not for anything of rlcm's: on a
# tmpfs when the machine has one. On this machine's ext4 each of its renames (a workspace
# file per request, under one lock) cost a millisecond or more, and at max_parallel 100
# its answers took 35 ms instead of 5: Workato's latency, not rlcm's, grew with the load.
# rlcm's own state file stays on the disk the benchmark runs from.
SIM_TMPFS = Path("/dev/shm")


def _on_tmpfs(directory: Path) -> Path:
    """`directory` as a link into a fresh directory on the tmpfs (removed when the
    benchmark exits); `directory` itself where there is none, or it exists already."""
    if directory.is_symlink() and not directory.exists():
        directory.unlink()  # left by an earlier run, whose tmpfs directory is gone
    if directory.exists() or not SIM_TMPFS.is_dir():
        return directory
    target = Path(tempfile.mkdtemp(prefix="rlcm-bench-sim-", dir=SIM_TMPFS))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.symlink_to(target, target_is_directory=True)
    return directory


def seed(directory: Path, customers: int, world: World) -> Simulator:
    sim = Simulator(_on_tmpfs(directory))
    sim.seed_demo(customers=customers)
    for _, names in catalogue(world) if world.products > 1 else []:
        for name in names:
            folder = sim.add_folder(TEMPLATE, name)
            table = {"schema": [{"label": "Code", "name": "code"}], "rows": [{"code": name}]}
            sim.add_asset(TEMPLATE, "lookup_table", name + " codes", folder, table)
    # jobs finish by time alone (not after N polls), as Workato's do
    sim.set_job_timing(duration=world.job_duration, polls=10**9)
    sim.set_rate_limits(
        True,
        imports=world.quota_imports,
        import_status=world.quota_import_status,
        other=world.quota_other,
        recipes=world.quota_recipes,
        recipe_actions=world.quota_recipe_actions,
    )
    return sim


@contextmanager
def served(directory: Path, world: World) -> Iterator[str]:
    """`rlcm sim serve` in its own process on 127.0.0.1; yields its base URL."""
    command = [
        sys.executable,
        "-m",
        "reconciler",
        "sim",
        "serve",
        "--dir",
        str(directory),
        "--port",
        "0",
        "--time-scale",
        f"{world.time_scale:g}",
        "--rate-limits",
        "--latency",
        f"{world.latency:g}",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env()
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"rlcm sim serve did not start (said {url!r})")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def env() -> dict[str, str]:
    return {**os.environ, **TOKEN_ENV, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def fresh_quota(world: World) -> None:
    """Wait one quota window (plus the client's margin), so each command starts afresh."""
    time.sleep(world.real(world.window) + 0.2)

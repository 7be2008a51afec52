"""A demo world on disk for the end-to-end apply tests: config, simulator, CLI runners.

`World` writes a config directory (the example manifests, a Workspace that polls fast)
beside a seeded simulator directory, and runs `rlcm` against it in process (CliRunner)
or as a subprocess. The simulator is reached through `sim://` or, inside
`World.over_http()`, through a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli.app import cli
from reconciler.simulator import Simulator
from reconciler.simulator.core import Json, RequestRecord

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "manifests"
TOKEN_ENV = {"WORKATO_API_TOKEN": "demo-token"}
DEMO_CANARY = "acme"
DEMO_MANIFESTS = ("shared-connections", "crm-sync", "billing-alerts")
FAST = "poll: {interval: 0.01, max_interval: 0.05}"
LIMITS = (
    "rate_limits: {imports: 100000, import_status: 100000, other: 100000, folders: 100000, "
    "customers: 100000}"
)


def workspace_yaml(base_url: str, poll: str = FAST) -> str:
    return (
        "kind: Workspace\nname: partner\napi:\n"
        f"  base_url: {base_url}\n  auth: bearer\n  token_env: WORKATO_API_TOKEN\n"
        f"  {LIMITS}\n  {poll}\n---\nkind: Source\nworkspace: partner\nmanaged_user: E-template\n"
    )


def fleet_yaml(refs: Sequence[tuple[str, int]], *, wave: str | None = None) -> str:
    lines = [
        "kind: Fleet",
        "name: generic",
        "workspace: partner",
        f"manifests: [{', '.join(DEMO_MANIFESTS)}]",
        "restart_recipes: true",
    ]
    if wave:
        lines.append(f"wave: {wave}")
    lines.append("customers:")
    lines += [f'  - {{customer: "{ref}", folder_id: {folder}}}' for ref, folder in refs]
    return "\n".join(lines) + "\n"


def generic_customers(count: int) -> list[tuple[str, int]]:
    """The customers `seed_demo(customers=N)` adds: E-cust-0001 in folder 50001, ..."""
    return [(f"E-cust-{i:04d}", 50_000 + i) for i in range(1, count + 1)]


def rollout_yaml(waves: Sequence[str], max_parallel: int = 8, halt: int = 3) -> str:
    return (
        f"kind: Rollout\nwaves: [{', '.join(waves)}]\n"
        f"max_parallel: {max_parallel}\nhalt_after_failures: {halt}\n"
    )


@dataclass
class World:
    """A config directory and its simulator; `rlcm` runs with the config's directory."""

    root: Path
    customers: int = 0
    env: dict[str, str] = field(default_factory=lambda: dict(TOKEN_ENV))
    base_url: str = "sim://../sim"

    def __post_init__(self) -> None:
        self.config = self.root / "config"
        self.sim_dir = self.root / "sim"
        self.config.mkdir(parents=True, exist_ok=True)
        for name in ("manifests.yaml", "targets.yaml", "fleet-emea.yaml", "rollout.yaml"):
            shutil.copy(EXAMPLES / name, self.config / name)
        self.write("workspace.yaml", workspace_yaml(self.base_url))
        self.sim = Simulator(self.sim_dir)
        self.sim.seed_demo(self.customers)
        # Jobs finish on their second status poll (or after 30 simulated seconds).
        self.sim.set_job_timing(duration=30, polls=2)

    # -- config ------------------------------------------------------------------------
    def write(self, name: str, text: str) -> None:
        (self.config / name).write_text(text)

    def remove(self, name: str) -> None:
        (self.config / name).unlink()

    def generic_fleet(
        self, count: int, *, waves: Sequence[str] = (), max_parallel: int = 8, halt: int = 3
    ) -> None:
        """Only the generic customers, as one Fleet (in `waves[0]` when waves are given)."""
        for name in ("targets.yaml", "fleet-emea.yaml", "rollout.yaml"):
            with contextlib.suppress(FileNotFoundError):
                self.remove(name)
        wave = waves[0] if waves else None
        self.write("fleet.yaml", fleet_yaml(generic_customers(count), wave=wave))
        if waves:
            self.write("rollout.yaml", rollout_yaml(waves, max_parallel, halt))

    def set_rollout(self, max_parallel: int = 8, halt: int = 3) -> None:
        self.write("rollout.yaml", rollout_yaml(["canary", "main"], max_parallel, halt))

    @property
    def state_path(self) -> Path:
        return self.config / "rlcm.state.json"

    # -- running rlcm --------------------------------------------------------------------
    def rlcm(self, *args: str | Path) -> Result:
        """`rlcm ARGS -c CONFIG` in process; stdout and stderr stay apart."""
        argv = [str(a) for a in args]
        runner = CliRunner(env=self.env)
        with contextlib.chdir(self.root):
            return runner.invoke(cli, [*argv, "-c", str(self.config)], catch_exceptions=False)

    def apply(self, *args: str | Path) -> Result:
        return self.rlcm("apply", "--auto-approve", *args)

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        """`python -m reconciler ARGS -c CONFIG` as a child process (for signals)."""
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args, "-c", str(self.config)],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    # -- HTTP ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def over_http(self) -> Iterator[str]:
        """Serve the simulator on 127.0.0.1 and point the config at it meanwhile."""
        from reconciler.simulator.serve import running_server

        with running_server(self.sim_dir) as url:
            self.write("workspace.yaml", workspace_yaml(url))
            try:
                yield url
            finally:
                self.write("workspace.yaml", workspace_yaml(self.base_url))

    # -- reading the simulator's request log ----------------------------------------------
    def log(self) -> list[RequestRecord]:
        return self.sim.request_log()

    def user_id(self, ref: str) -> int:
        found = self.sim.managed_user_id(ref)
        assert found is not None, ref
        return found


def imports_by_folder(log: Sequence[RequestRecord]) -> dict[str, list[int]]:
    """Import POST positions in the log per target folder id."""
    found: dict[str, list[int]] = {}
    for index, record in enumerate(log):
        if record.kind == "import" and record.method == "POST":
            found.setdefault(record.query.get("folder_id", ""), []).append(index)
    return found


def count(log: Sequence[RequestRecord], kind: str, method: str = "POST") -> int:
    return sum(1 for r in log if r.kind == kind and r.method == method and r.status < 300)


def imported_manifests(world: World, folder_id: int) -> list[str]:
    """The manifests imported into `folder_id`, in the order their jobs were created.

    A package's manifest is recognised by the folder its assets came from in the
    source: Shared connections, CRM sync or Billing alerts.
    """
    names = []
    for job in world.sim.jobs("import"):
        if int(job["params"]["folder_id"]) != folder_id:
            continue
        names.append(_manifest_of_package(world.sim.package_zip(int(job["id"])) or b""))
    return names


def _manifest_of_package(blob: bytes) -> str:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = " ".join(archive.namelist()).lower()
    if "sync_accounts" in names or "sync accounts" in names or "crm" in names:
        return "crm-sync"
    if "alert" in names:
        return "billing-alerts"
    return "shared-connections"


def max_in_flight(jobs: list[Json]) -> int:
    """The most jobs that were running at one instant (from their start and end times)."""
    events = sorted(
        [(job["created"], 1) for job in jobs] + [(job["finished"], -1) for job in jobs],
        key=lambda event: (event[0], event[1]),  # an end before a start at the same instant
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak

"""`rlcm demo`: seed the simulator, then plan, apply and plan again on the examples.

It runs the same commands a user would, in this process, against a freshly seeded
simulator, so it shows the real output: a plan of creates, an apply with one
deliberately failing customer (a running recipe and no `restart_recipes`), and a second
plan that has nothing left to do but that failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click

__all__ = ["demo"]

DEMO_TOKEN = "demo-token"  # the simulator's published demo token, not a secret


@click.command("demo")
@click.option(
    "-c",
    "--config",
    "config",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("examples/manifests"),
    show_default=True,
    help="A config whose workspace is the simulator (base_url: sim://...).",
)
@click.option("--customers", type=click.IntRange(min=0), default=0, help="Extra generic customers.")
def demo(config: Path, customers: int) -> None:
    """Seed a simulator and run plan, apply and plan again on the example config."""
    from reconciler.config import load_desired
    from reconciler.errors import RlcmError

    desired = load_desired(config)
    workspace = desired.source_workspace
    if not workspace.base_url.startswith("sim://"):
        raise click.ClickException(
            f"the demo only runs against the simulator; {config} points at {workspace.base_url}"
        )
    sim_dir = Path(workspace.base_url.removeprefix("sim://"))
    _reset(config, sim_dir, customers)
    if not os.environ.get(workspace.token_env):
        os.environ[workspace.token_env] = DEMO_TOKEN
    try:
        _step("rlcm plan", ["plan", "-c", str(config)])
        code = _step("rlcm apply --auto-approve", ["apply", "-c", str(config), "--auto-approve"])
        _step("rlcm plan (again: only what did not succeed is left)", ["plan", "-c", str(config)])
    except RlcmError as exc:
        raise click.ClickException(str(exc)) from None
    click.secho(
        f"\nDemo finished (apply exited {code}: 3 means some imports failed, as intended).",
        bold=True,
    )


def _reset(config: Path, sim_dir: Path, customers: int) -> None:
    from reconciler.simulator import Simulator

    click.secho(f"Seeding the simulator in {sim_dir} ...", bold=True)
    Simulator(sim_dir).seed_demo(customers)
    for stale in (config / "rlcm.state.json", config / "rlcm.state.json.lock"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(config / ".rlcm" / "cache", ignore_errors=True)


def _step(title: str, args: list[str]) -> int:
    from reconciler.cli.app import cli

    click.secho(f"\n$ {title}\n", bold=True, fg="cyan")
    try:
        cli.main(args, prog_name="rlcm", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0

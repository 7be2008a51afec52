"""`rlcm sim`: run and seed the built-in Workato simulator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.sim_admin import DEFAULT_DIR
from reconciler.cli.sim_controls import CONTROLS

if TYPE_CHECKING:
    from reconciler.simulator import Simulator

__all__ = ["sim"]

SERVE_LISTED = 5  # workspaces `serve` lists at start; `rlcm sim ids` lists them all


_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DIR,
    show_default=True,
    help="Where the simulator keeps its state.",
)


@click.group()
def sim() -> None:
    """Run, seed and steer the built-in Workato simulator.

    Controls (bump-recipe, edit-manifest, fail-next-import, ...) work on a simulator
    directory (--dir, default .rlcm/sim), a running `rlcm sim serve` (--url) or the one a
    config uses (-c). `rlcm sim ids` shows the token and the seeded ids.
    """


@sim.command()
@_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=int, default=8765, show_default=True, help="Port (0 picks a free one)."
)
@click.option(
    "--seed", type=click.Choice(["demo"]), default=None, help="Seed the demo world if DIR is empty."
)
@click.option(
    "--customers",
    type=int,
    default=0,
    show_default=True,
    help="Extra generic customers for --seed demo.",
)
@click.option(
    "--time-scale",
    type=float,
    default=None,
    help="Divide every window, job duration and latency by F.",
)
@click.option("--rate-limits/--no-rate-limits", default=None, help="Enforce Workato's quotas.")
@click.option(
    "--quota",
    "quotas",
    multiple=True,
    metavar="BUCKET=N[/minute|/hour][,fixed]",
    help=(
        "Enforce this quota instead of Workato's published one (repeatable; implies "
        "--rate-limits): e.g. imports=500/hour,fixed (reset at the top of the hour) or "
        "other=30. Buckets: imports, import_status, other, dev_imports."
    ),
)
@click.option(
    "--retry-after/--no-retry-after",
    default=True,
    show_default=True,
    help="Whether a 429 carries a Retry-After header.",
)
@click.option(
    "--latency", type=float, default=None, help="Simulated seconds added to every answer."
)
@click.option(
    "--dialect",
    "dialects",
    multiple=True,
    metavar="NAME",
    help=(
        "Answer in a dialect of Workato where its sources disagree (repeatable): processing, "
        "unknown_status, recipe_ids_missing, octet_stream, folder_asset_status, one_import."
    ),
)
@click.option(
    "--bare-environment",
    type=click.Choice(["dev", "prod"]),
    default=None,
    help="What a bare customer id names for a customer with Environments (default dev).",
)
@click.option(
    "--recipes-shape",
    type=click.Choice(["result", "items", "bare"]),
    default=None,
    help="Wrap recipe lists in `result`, in `items` or not at all (default: as documented).",
)
def serve(
    directory: Path,
    host: str,
    port: int,
    seed: str | None,
    customers: int,
    time_scale: float | None,
    rate_limits: bool | None,
    latency: float | None,
    dialects: tuple[str, ...],
    quotas: tuple[str, ...],
    retry_after: bool,
    bare_environment: str | None,
    recipes_shape: str | None,
) -> None:
    """Serve the simulator over HTTP until Ctrl-C."""
    from reconciler.simulator import Simulator
    from reconciler.simulator.serve import base_url, make_server

    if time_scale is not None and time_scale <= 0:
        raise click.BadParameter("must be positive", param_hint="--time-scale")
    simulator = Simulator(directory)
    if seed == "demo" and not simulator.is_seeded():
        simulator.seed_demo(customers=customers)
    if time_scale is not None:
        simulator.set_time_scale(time_scale)
    if quotas or not retry_after:
        given = _quotas(quotas)
        try:
            simulator.set_rate_limits(rate_limits is not False, retry_after=retry_after, **given)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--quota") from None
    elif rate_limits is not None:
        simulator.enable_rate_limits(rate_limits)
    if latency is not None:
        simulator.set_latency(latency)
    if dialects:
        try:
            simulator.set_dialect(dialects)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--dialect") from None
    if bare_environment is not None:
        simulator.set_bare_environment(bare_environment)
    if recipes_shape is not None:
        simulator.set_recipes_shape(recipes_shape)
    try:
        server = make_server(directory, host, port, time_scale)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    url = base_url(server)
    click.echo(url)  # alone on the first line, for scripts
    _introduce(simulator, directory, url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.server_close()


_BUCKETS = ("imports", "import_status", "other", "dev_imports")


def _quotas(quotas: tuple[str, ...]) -> dict[str, Any]:
    """`imports=500/hour,fixed` ... as keyword arguments of Simulator.set_rate_limits."""
    given: dict[str, Any] = {}
    per: dict[str, str] = {}
    fixed: list[str] = []
    for text in quotas:
        bucket, _, rest = text.partition("=")
        amount, _, shape = rest.partition(",")
        number, _, window = amount.partition("/")
        try:
            requests = float(number)
        except ValueError:
            requests = -1.0
        if bucket not in _BUCKETS or requests <= 0 or window not in ("", "minute", "hour"):
            raise click.BadParameter(
                f"{text!r}: expected BUCKET=N[/minute|/hour][,fixed] with BUCKET one of "
                f"{', '.join(_BUCKETS)} and N > 0",
                param_hint="--quota",
            )
        if shape not in ("", "fixed", "sliding"):
            raise click.BadParameter(
                f"{text!r}: the window is fixed or sliding", param_hint="--quota"
            )
        given[bucket] = requests
        if window:
            per[bucket] = window
        if shape == "fixed":
            fixed.append(bucket)
    return {**given, "per": per, "fixed": fixed}


@sim.group()
def seed() -> None:
    """Seed a simulator directory."""


@seed.command("demo")
@_dir_option
@click.option(
    "--customers",
    type=int,
    default=0,
    show_default=True,
    help="Extra generic customers E-cust-0001...",
)
@click.option(
    "-c",
    "--config",
    "config",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Seed the sim://DIR of this config's source workspace instead of --dir.",
)
def seed_demo(directory: Path, customers: int, config: Path | None) -> None:
    """(Re)create the demo world: template, 13 customers, own workspace."""
    from reconciler.cli.sim_admin import config_endpoint
    from reconciler.simulator import Simulator

    if customers < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--customers")
    if config is not None:
        endpoint = config_endpoint(config)
        if endpoint.directory is None:
            raise click.UsageError(
                f"{config} uses {endpoint.url}: seed a server with "
                f"`rlcm sim action seed_demo --url {endpoint.url}`"
            )
        directory = endpoint.directory
    Simulator(directory).seed_demo(customers=customers)
    click.echo(f"seeded demo world in {directory} ({13 + customers} customers)")


for _control in CONTROLS:
    sim.add_command(_control)


def _introduce(simulator: Simulator, directory: Path, url: str) -> None:
    """What a user needs next: the token, the config line, the seeded ids, the controls."""
    from reconciler.cli.sim_admin import SimEndpoint
    from reconciler.cli.sim_controls import render_ids

    endpoint = SimEndpoint(url=url)
    click.echo(f"Workato simulator on {directory}: in a Workspace, `base_url: {url}`")
    if not simulator.is_seeded():
        click.echo(
            f"Warning: {directory} is empty (no managed users): restart with --seed demo, "
            f"or run `rlcm sim seed demo --dir {directory}`"
        )
    for line in render_ids(simulator.overview(), endpoint, limit=SERVE_LISTED):
        click.echo(f"  {line}")
    click.echo(f"Controls: `rlcm sim --help`, e.g. `rlcm sim ids --url {url}`; Ctrl-C stops.")

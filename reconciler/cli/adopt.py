"""`rlcm adopt manifest.NAME ID`: record an existing live manifest in state."""

from __future__ import annotations

import click

from reconciler.cli.options import GlobalOptions, common_options

__all__ = ["adopt"]


@click.command("adopt")
@click.argument("address")
@click.argument("manifest_id", metavar="ID", type=click.IntRange(min=1))
@common_options
def adopt(opts: GlobalOptions, address: str, manifest_id: int) -> None:
    """Record the live manifest ID as manifest.NAME of the config.

    The manifest is viewed and its name and folder checked first. Nothing changes in
    Workato; the next plan shows what it takes to match the config.
    """
    from reconciler.cli.common import run_async, warn
    from reconciler.cli.workflow import load_inputs, open_clients
    from reconciler.errors import StateError
    from reconciler.live.adopt import adopt_manifest, manifest_name
    from reconciler.state.model import ManifestRecord

    inputs = load_inputs(opts.config, opts.state_path, explicit_state=opts.state_file is not None)
    name = manifest_name(address, inputs.desired)
    with inputs.store.lock("adopt") as held:
        if held.warning:
            warn(opts, held.warning)
        state = inputs.store.read()
        known = state.manifests.get(name)
        if known is not None and known.id != manifest_id:
            raise StateError(
                f"{address} is already recorded with id {known.id}; "
                f"run `rlcm state rm {address}` first to adopt {manifest_id} instead"
            )

        async def view() -> ManifestRecord:
            async with open_clients(inputs.desired) as clients:
                source = clients[inputs.desired.source.workspace]
                return await adopt_manifest(inputs.desired, source, name, manifest_id)

        record = run_async(view())
        state.manifests[name] = record
        state.pending.pop(name, None)
        inputs.store.write(state)
    if not opts.quiet:
        click.echo(
            f"Adopted manifest {manifest_id} as {address}. Run `rlcm plan` to see what follows."
        )

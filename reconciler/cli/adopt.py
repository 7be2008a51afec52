"""`rlcm adopt`: record in state what exists already, without changing Workato.

rlcm adopt manifest.NAME ID            a live manifest made outside rlcm
rlcm adopt import.NAME@TARGET...       imports a script made: the target runs the package
rlcm adopt --all | --target GLOB...    every never-imported import (or those matching)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from reconciler.cli.options import GlobalOptions, common_options

__all__ = ["adopt"]


@click.command("adopt")
@click.argument("arguments", nargs=-1, metavar="[manifest.NAME ID | import.NAME@TARGET...]")
@click.option(
    "--all", "adopt_all", is_flag=True, help="Adopt every import that was never imported."
)
@click.option(
    "--target",
    "patterns",
    multiple=True,
    metavar="GLOB",
    help="Adopt the never-imported imports matching GLOB (import address or target).",
)
@click.option("--force", is_flag=True, help="Adopt even where the package's recipes are missing.")
@click.option("--auto-approve", is_flag=True, help="Record without asking for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only show what would be recorded.")
@common_options
def adopt(
    opts: GlobalOptions,
    arguments: tuple[str, ...],
    adopt_all: bool,
    patterns: tuple[str, ...],
    force: bool,
    auto_approve: bool,
    dry_run: bool,
) -> None:
    """Record what already exists in Workato, so rlcm does not create or import it again.

    `manifest.NAME ID` records the live manifest ID as manifest.NAME of the config (its
    name and folder are checked first; the next plan shows what it takes to match the
    config). `import.NAME@TARGET` (or --all, or --target GLOB) records that a target
    already runs the manifest's current package: its folder is read once, the package's
    recipes are looked up there by name, and the package and folder are recorded as if
    rlcm had imported them. A target whose folder lacks recipes of the package is not
    adopted unless --force; the plan then shows its import with the reason. Nothing is
    written before you confirm (or pass --auto-approve).
    """
    if arguments and arguments[0].startswith("manifest."):
        if len(arguments) != 2 or adopt_all or patterns:
            raise click.UsageError("adopt manifest.NAME ID takes exactly one manifest and its id")
        try:
            manifest_id = int(arguments[1])
        except ValueError:
            raise click.BadParameter("must be a number", param_hint="ID") from None
        if manifest_id < 1:
            raise click.BadParameter("must be at least 1", param_hint="ID")
        _adopt_manifest(opts, arguments[0], manifest_id)
        return
    odd = [a for a in arguments if not a.startswith("import.")]
    if odd:
        raise click.UsageError(f"{odd[0]}: expected import.NAME@TARGET or manifest.NAME ID")
    if not arguments and not adopt_all and not patterns:
        raise click.UsageError("name imports (import.NAME@TARGET), or use --target GLOB or --all")
    _adopt_imports(opts, arguments, patterns, force=force, auto_approve=auto_approve, dry=dry_run)


def _adopt_manifest(opts: GlobalOptions, address: str, manifest_id: int) -> None:
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


def _adopt_imports(
    opts: GlobalOptions,
    addresses: Sequence[str],
    patterns: Sequence[str],
    *,
    force: bool,
    auto_approve: bool,
    dry: bool,
) -> None:
    from reconciler.applier.recorder import now_iso
    from reconciler.cli.common import end_progress_line, read_progress, run_async, warn
    from reconciler.cli.workflow import load_inputs, open_clients, refresh_and_plan
    from reconciler.errors import RlcmError
    from reconciler.live.adopt import FolderRef, read_target_folders
    from reconciler.plan.adoption import (
        AdoptionPlan,
        adoption_plan,
        recipe_paths,
        select_imports,
    )
    from reconciler.state.inputs import Inputs

    loaded = load_inputs(opts.config, opts.state_path)
    with loaded.store.lock("adopt") as held:
        if held.warning:
            warn(opts, held.warning)
        inputs = Inputs(loaded.desired, loaded.store, loaded.store.read())
        state = inputs.state

        async def preview() -> AdoptionPlan:
            async with open_clients(inputs.desired) as clients:
                plan, _, _ = await refresh_and_plan(inputs, clients, on_read=read_progress(opts))
                end_progress_line()
                changes = select_imports(plan, inputs.desired, state, addresses, patterns)
                refs: dict[str, FolderRef] = {
                    c.target or "": (
                        c.data["workspace"],
                        c.data.get("customer"),
                        int(c.data["folder_id"]),
                        recipe_paths([d for d in changes if d.target == c.target], state),
                    )
                    for c in changes
                    if c.data.get("package") and c.data["folder_id"]
                }
                folders = await read_target_folders(clients, refs)
                return adoption_plan(changes, state, folders, force=force, now=now_iso())

        result = run_async(preview())
        if not result.items:
            click.echo("Nothing to adopt: every configured import is recorded already.")
            return
        for item in result.items:
            mark = "+" if item.recorded else "!"
            click.echo(f"  {mark} {item.sentence()}")
        click.echo(result.summary())
        if dry:
            return
        if result.records or result.notes:
            _confirm(auto_approve)
            state.imports.update(result.records)
            for key in result.records:
                state.unadopted.pop(key, None)
            state.unadopted.update(result.notes)
            state.targets.update(result.targets)
            state.baselines.update(result.baselines)
            inputs.store.write(state)
    if result.refused:
        raise RlcmError(
            f"{len(result.refused)} of {len(result.items)} imports were not adopted (see above); "
            "`rlcm plan` shows them as imports with the reason"
        )
    if not opts.quiet:
        click.echo(f"Adopted {len(result.adopted)} imports. `rlcm plan` is empty for them now.")


def _confirm(auto_approve: bool) -> None:
    from reconciler.errors import RlcmError

    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise RlcmError("not on a terminal: pass --auto-approve to record without asking")
    if not click.confirm("\nRecord these in state?", default=False):
        raise RlcmError("adopt cancelled; nothing was recorded")

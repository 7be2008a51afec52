"""`rlcm state list|show|rm|unlock`: inspect and repair the state file."""

# Library modules are imported inside the commands so `rlcm --help` stays fast.

from __future__ import annotations

import click

from reconciler.cli.options import GlobalOptions, common_options

__all__ = ["state"]


@click.group()
def state() -> None:
    """Inspect and repair the state file."""


@state.command("list")
@common_options
def list_(opts: GlobalOptions) -> None:
    """Print every address in state, one per line, sorted."""
    from reconciler.state.store import StateStore

    for address in StateStore(opts.state_path).read().addresses():
        click.echo(address)


@state.command()
@click.argument("address")
@common_options
def show(opts: GlobalOptions, address: str) -> None:
    """Print the record at ADDRESS as JSON."""
    import json

    from reconciler.state.addresses import find_record
    from reconciler.state.store import StateStore

    store = StateStore(opts.state_path)
    record = find_record(store.read(), address, str(store.path))
    click.echo(json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True))


@state.command()
@click.argument("addresses", nargs=-1, required=True)
@common_options
def rm(opts: GlobalOptions, addresses: tuple[str, ...]) -> None:
    """Forget the records at ADDRESSES (nothing is deleted in Workato)."""
    from reconciler.state.addresses import find_record, remove_record
    from reconciler.state.store import StateStore

    store = StateStore(opts.state_path)
    with store.lock("state rm") as held:
        if held.warning and not opts.quiet:
            click.echo(f"Warning: {held.warning}", err=True)
        current = store.read()
        for address in addresses:  # all or nothing: check every address first
            find_record(current, address, str(store.path))
        removed = [
            (address, remove_record(current, address)) for address in dict.fromkeys(addresses)
        ]
        store.write(current)
    for address, record in removed:
        click.echo(f"Removed {address}")
        if address.startswith("manifest."):
            manifest_id = getattr(record, "id", "?")
            click.echo(
                f"  The manifest itself (id {manifest_id}) still exists in Workato: rlcm no "
                f"longer tracks it. Delete it there, or `rlcm adopt {address} {manifest_id}`."
            )


@state.command()
@click.option("--force", is_flag=True, help="Remove the lock whoever holds it.")
@common_options
def unlock(opts: GlobalOptions, force: bool) -> None:
    """Remove the state lock: a dead holder's on this host, or any with --force."""
    from reconciler.errors import LockError
    from reconciler.state.lock import read_lock, remove_lock
    from reconciler.state.store import StateStore

    store = StateStore(opts.state_path)
    if force:
        existed = store.lock_path.exists()
        try:
            info = read_lock(store.lock_path)
        except LockError:  # unreadable: --force removes it all the same
            info = None
        remove_lock(store.lock_path)
        if not existed:
            click.echo("State is not locked.")
        elif info is not None:
            click.echo(f"Removed the lock held by {info.describe()}.")
        else:
            click.echo("Removed the unreadable lock.")
        return
    info = read_lock(store.lock_path)
    if info is None:
        click.echo("State is not locked.")
        return
    if not info.holder_is_gone():
        raise LockError(
            f"state is locked by {info.describe()}, which may still be running; "
            "use `rlcm state unlock --force` to remove the lock anyway"
        )
    remove_lock(store.lock_path)
    click.echo(f"Removed the lock held by {info.describe()} (that process is gone).")

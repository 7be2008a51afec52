"""`rlcm state list|show|rm|unlock|history|push|pull`: inspect, repair and move the state."""

# Library modules are imported inside the commands so `rlcm --help` stays fast.

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.options import GlobalOptions, common_options

if TYPE_CHECKING:
    from reconciler.state.backends import StateBackend

__all__ = ["state"]


def _backend(opts: GlobalOptions) -> StateBackend:
    """--state FILE: that file. Otherwise the config's `kind: State` (only that document is
    read, so a lock can be repaired while the rest of the config is broken), else the
    file beside the config."""
    from reconciler.cli.workflow import open_state
    from reconciler.config.desired import StateSpec

    spec = StateSpec()
    if opts.state_file is None:
        from reconciler.config import load_state_spec

        spec = load_state_spec(opts.config)
    return open_state(spec, opts.config, opts.state_path, explicit_state=False)


@click.group()
def state() -> None:
    """Inspect, repair and move the state (file or PostgreSQL)."""


@state.command("list")
@common_options
def list_(opts: GlobalOptions) -> None:
    """Print every address in state, one per line, sorted (the lock holder on stderr)."""
    from reconciler.errors import LockError

    backend = _backend(opts)
    for address in backend.read().addresses():
        click.echo(address)
    if opts.quiet:
        return
    try:
        holder = backend.holder()
    except LockError as exc:  # an unreadable lock file: say so, the listing stands
        click.echo(f"Locked: {exc}", err=True)
        return
    if holder is not None:
        click.echo(f"Locked by {holder.describe()}", err=True)


@state.command()
@click.argument("address", required=False)
@click.option("--serial", type=click.IntRange(min=1), help="As written at this serial (history).")
@common_options
def show(opts: GlobalOptions, address: str | None, serial: int | None) -> None:
    """Print the record at ADDRESS as JSON (the whole state without ADDRESS)."""
    from reconciler.errors import StateError
    from reconciler.state.addresses import find_record

    backend = _backend(opts)
    current = backend.read() if serial is None else backend.read_serial(serial)
    if address is None:
        if serial is None:
            raise StateError("give an ADDRESS, or --serial N for the whole state at serial N")
        click.echo(json.dumps(current.model_dump(mode="json"), indent=2, sort_keys=True))
        return
    where = backend.where if serial is None else f"{backend.where} at serial {serial}"
    record = find_record(current, address, where.removeprefix("state file "))
    click.echo(json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True))


@state.command()
@click.argument("addresses", nargs=-1, required=True)
@common_options
def rm(opts: GlobalOptions, addresses: tuple[str, ...]) -> None:
    """Forget the records at ADDRESSES (nothing is deleted in Workato)."""
    from reconciler.state.addresses import find_record, remove_record

    backend = _backend(opts)
    where = backend.where.removeprefix("state file ")
    with backend.lock("state rm") as held:
        if held.warning and not opts.quiet:
            click.echo(f"Warning: {held.warning}", err=True)
        current = backend.read()
        for address in addresses:  # all or nothing: check every address first
            find_record(current, address, where)
        removed = [
            (address, remove_record(current, address)) for address in dict.fromkeys(addresses)
        ]
        backend.write(current)
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
    """Remove the state lock: a dead holder's, or any with --force."""
    click.echo(_backend(opts).unlock(force=force))


@state.command()
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@common_options
def history(opts: GlobalOptions, output_format: str) -> None:
    """List the serials kept, oldest first: time, command and what changed."""
    backend = _backend(opts)
    entries = backend.history()
    if output_format == "json":
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    if not entries:
        click.echo(f"No history in {backend.where}.")
        return
    width = max(len("COMMAND"), *(len(e.command) for e in entries))
    click.echo(f"{'SERIAL':>8}  {'WRITTEN':<20}  {'COMMAND':<{width}}  SUMMARY")
    for e in entries:
        click.echo(f"{e.serial:>8}  {e.written_at:<20}  {e.command:<{width}}  {e.summary}")


@state.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@common_options
def push(opts: GlobalOptions, file: Path) -> None:
    """Store the state FILE (and its .rlcm/history) in the config's backend, keeping its
    lineage, serial and history: the move from the file backend to PostgreSQL."""
    from reconciler.errors import StateError
    from reconciler.state.backends import FileBackend

    source = FileBackend(file)
    backend = _backend(opts)
    if isinstance(backend, FileBackend) and backend.path.resolve() == file.resolve():
        raise StateError(f"{file} is already this config's state file; nothing to push")
    incoming = source.read()
    if incoming.serial == 0:
        raise StateError(f"{file} holds no state (serial 0); nothing to push")
    history = [(e, s) for e, s in source.history_states() if e.serial < incoming.serial]
    with backend.lock("state push") as held:
        if held.warning and not opts.quiet:
            click.echo(f"Warning: {held.warning}", err=True)
        backend.push(incoming, history)
    click.echo(
        f"Pushed serial {incoming.serial} (lineage {incoming.lineage}) and "
        f"{len(history)} earlier serials to {backend.where}."
    )


@state.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a state file (with its history in .rlcm/history/ beside it), not stdout.",
)
@common_options
def pull(opts: GlobalOptions, out: Path | None) -> None:
    """Print the state as a state file's JSON, or write it (and its history) to --out: the
    move from PostgreSQL back to the file backend."""
    from reconciler.state.backends import FileBackend
    from reconciler.state.encode import encode_state

    backend = _backend(opts)
    if out is None:
        click.echo(encode_state(backend.read()).decode(), nl=False)
        return
    with backend.lock("state pull"):
        current = backend.read()
        history = [(e, s) for e, s in backend.history_states() if e.serial < current.serial]
    target = FileBackend(out)
    with target.lock("state pull"):
        target.push(current, history)
    kept = min(len(history), target.keep)
    click.echo(f"Wrote serial {current.serial} to {out} with {kept} earlier serials.")

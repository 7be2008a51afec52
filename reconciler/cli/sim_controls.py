"""`rlcm sim` controls: change what the simulator holds, as a user would in Workato's UI.

Each command is one admin action (sim_admin.py) with friendly arguments. OWNER names a
workspace as `rlcm sim ids` lists it: `own` (the partner's own workspace, developer API),
a managed user's `E<external id>` (E-template, E-acme-001) or its numeric id. A RECIPE or
ASSET is a name or a numeric id. To add a control, write a command like the ones below and
append it to CONTROLS; any action without one is reachable through `rlcm sim action`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.cli.sim_admin import SimEndpoint, endpoint_options, parse_assignments, send

__all__ = ["CONTROLS", "render_ids"]

FAILURES = ("stop_failed", "not_found", "stopped", "restart_failed")


def _ref(text: str) -> int | str:
    """An asset reference: a numeric id, else a name."""
    return int(text) if text.isdigit() else text


_owner = click.argument("owner")
_folder = click.option("--folder-id", type=int, default=None, help="Only in this folder.")


@click.command("ids")
@endpoint_options
@click.option("--json", "as_json", is_flag=True, help="The whole overview as JSON.")
def ids(endpoint: SimEndpoint, as_json: bool) -> None:
    """Show the token and every workspace's owner, folders, manifests and assets."""
    overview = send(endpoint, "overview")
    if as_json:
        click.echo(json.dumps(overview, indent=2))
    else:
        click.echo("\n".join(render_ids(overview, endpoint)))


@click.command("bump-recipe")
@endpoint_options
@_owner
@click.argument("recipe")
@_folder
def bump_recipe(endpoint: SimEndpoint, owner: str, recipe: str, folder_id: int | None) -> None:
    """Edit a recipe as in the UI: it gets a new version (the next plan exports again)."""
    version = send(
        endpoint, "bump_recipe_version", owner=owner, recipe=_ref(recipe), folder_id=folder_id
    )
    click.echo(f"recipe {recipe!r} in {owner} is now version {version}")


@click.command("change-asset")
@endpoint_options
@_owner
@click.argument("asset")
@_folder
def change_asset(endpoint: SimEndpoint, owner: str, asset: str, folder_id: int | None) -> None:
    """Edit any asset's content (a connection, a lookup table's rows, a recipe)."""
    version = send(endpoint, "change_asset", owner=owner, asset=_ref(asset), folder_id=folder_id)
    click.echo(f"asset {asset!r} in {owner} changed (version {version})")


def _manifest_id(endpoint: SimEndpoint, owner: str, ref: str) -> int:
    """A manifest id, or the id of OWNER's manifest named `ref` (ids depend on the order
    an apply created them in; names are the config's)."""
    if ref.isdigit():
        return int(ref)
    for ws in send(endpoint, "overview")["workspaces"]:
        if owner in (ws["owner"], str(ws["user_id"])):
            found = [m["id"] for m in ws["manifests"] if m["name"] == ref]
            if found:
                return int(found[-1])
            names = ", ".join(m["name"] for m in ws["manifests"]) or "none"
            raise click.ClickException(f"no manifest {ref!r} in {owner} (manifests: {names})")
    raise click.ClickException(f"no workspace {owner!r} (see `rlcm sim ids`)")


_manifest = click.argument("manifest", metavar="MANIFEST")


@click.command("edit-manifest")
@endpoint_options
@_owner
@_manifest
@click.option(
    "--set",
    "changes",
    multiple=True,
    metavar="KEY=VALUE",
    required=True,
    help="A manifest field: name=crm, folder_id=113, include_tags=false, "
    'assets=\'[{"type": "recipe", "name": "Sync accounts"}]\'. Repeatable.',
)
def edit_manifest(
    endpoint: SimEndpoint, owner: str, manifest: str, changes: tuple[str, ...]
) -> None:
    """Change a manifest (an id, or a name) as in the UI; the next plan or drift shows it."""
    fields = parse_assignments(changes, "--set")
    manifest_id = _manifest_id(endpoint, owner, manifest)
    send(endpoint, "edit_manifest", owner=owner, manifest_id=manifest_id, **fields)
    click.echo(f"manifest {manifest_id} in {owner}: {', '.join(fields)} changed")


@click.command("archive-manifest")
@endpoint_options
@_owner
@_manifest
def archive_manifest(endpoint: SimEndpoint, owner: str, manifest: str) -> None:
    """Delete a manifest (an id, or a name) as in the UI; the next plan recreates it."""
    manifest_id = _manifest_id(endpoint, owner, manifest)
    send(endpoint, "archive_manifest", owner=owner, manifest_id=manifest_id)
    click.echo(f"manifest {manifest_id} in {owner} archived")


@click.command("fail-next-import")
@endpoint_options
@_owner
@click.argument("folder_id", type=int)
@click.option(
    "--result",
    "results",
    multiple=True,
    type=click.Choice(FAILURES),
    help="The import_result of each recipe, in order (default: stop_failed for the first).",
)
def fail_next_import(
    endpoint: SimEndpoint, owner: str, folder_id: int, results: tuple[str, ...]
) -> None:
    """Make the next import into OWNER's FOLDER_ID fail with these recipe results."""
    chosen = list(results) or ["stop_failed"]
    send(endpoint, "fail_next_import", owner=owner, folder_id=folder_id, results=chosen)
    click.echo(f"the next import into {owner} folder {folder_id} fails ({', '.join(chosen)})")


@click.command("fail-next-export")
@endpoint_options
@_owner
@click.option("--error", default="Export failed", show_default=True, help="The job's error.")
def fail_next_export(endpoint: SimEndpoint, owner: str, error: str) -> None:
    """Make the next export from OWNER fail."""
    send(endpoint, "fail_next_export", owner=owner, error=error)
    click.echo(f"the next export from {owner} fails ({error})")


def _running_command(name: str, running: bool) -> click.Command:
    action = "start_recipe" if running else "stop_recipe"

    @click.command(name, help=f"{'Start' if running else 'Stop'} a recipe, as in the UI.")
    @endpoint_options
    @_owner
    @click.argument("recipe")
    @_folder
    def command(endpoint: SimEndpoint, owner: str, recipe: str, folder_id: int | None) -> None:
        send(endpoint, action, owner=owner, recipe=_ref(recipe), folder_id=folder_id)
        click.echo(f"recipe {recipe!r} in {owner} {'started' if running else 'stopped'}")

    return command


@click.command("fault")
@endpoint_options
@click.argument("kind")
@click.argument("fault")
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--no-retry-after", is_flag=True, help="A 429 without a Retry-After header.")
def fault(endpoint: SimEndpoint, kind: str, fault: str, count: int, no_retry_after: bool) -> None:
    """The next COUNT requests of endpoint KIND ("*" for any) fail with FAULT (429, 503,
    drop, slow, ...; `rlcm sim action inject_fault` with a wrong one lists them all)."""
    extra: dict[str, Any] = {"retry_after": None} if no_retry_after else {}
    send(endpoint, "inject_fault", kind=kind, fault=fault, count=count, **extra)
    click.echo(f"the next {count} {kind} request(s) fail with {fault}")


@click.command("dialect")
@endpoint_options
@click.argument("names", nargs=-1, metavar="[NAME]...")
def dialect(endpoint: SimEndpoint, names: tuple[str, ...]) -> None:
    """Answer in these dialects where Workato's sources disagree (processing, one_import,
    ...; see `rlcm sim serve --help`); no NAME: the documents' own forms."""
    chosen = send(endpoint, "set_dialect", names=list(names))
    shown = ", ".join(chosen) or "none (the documents' forms)"
    click.echo(f"dialects: {shown}")


@click.command("clear-faults")
@endpoint_options
def clear_faults(endpoint: SimEndpoint) -> None:
    """Forget every injected fault and failing import or export."""
    send(endpoint, "clear_faults")
    click.echo("faults cleared")


@click.command("action")
@endpoint_options
@click.argument("name", required=False)
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
def action(endpoint: SimEndpoint, name: str | None, args: tuple[str, ...]) -> None:
    """Run any admin action NAME with KEY=VALUE arguments (JSON values, else strings),
    e.g. `rlcm sim action set_latency seconds=0.5`; without NAME, list the actions."""
    from reconciler.simulator.admin import ACTIONS

    if name is None:
        click.echo("\n".join(sorted(ACTIONS)))
        return
    result = send(endpoint, name, **parse_assignments(args, "KEY=VALUE"))
    click.echo("done" if result is None else json.dumps(result, indent=2))


CONTROLS: list[click.Command] = [
    ids,
    bump_recipe,
    change_asset,
    edit_manifest,
    archive_manifest,
    fail_next_import,
    fail_next_export,
    _running_command("start-recipe", True),
    _running_command("stop-recipe", False),
    fault,
    dialect,
    clear_faults,
    action,
]


def render_ids(
    overview: dict[str, Any], endpoint: SimEndpoint, limit: int | None = None
) -> list[str]:
    """The overview as lines a user reads; `limit` caps the workspaces listed."""
    tokens = ", ".join(overview["tokens"]) or "(none)"
    lines = [f"token: {tokens}   (export WORKATO_API_TOKEN={overview['tokens'][0]})"
             if overview["tokens"] else "token: (none)"]  # fmt: skip
    spaces = overview["workspaces"]
    if not spaces:
        lines.append(
            f"no workspaces: seed the demo world with `rlcm sim seed demo {endpoint.option}`"
        )
        return lines
    shown = spaces if limit is None else spaces[:limit]
    for ws in shown:
        lines.extend(_workspace_lines(ws))
    if len(spaces) > len(shown):
        lines.append(
            f"... and {len(spaces) - len(shown)} more workspaces: `rlcm sim ids {endpoint.option}`"
        )
    return lines


def _workspace_lines(ws: dict[str, Any]) -> list[str]:
    label = "own workspace (developer API)" if ws["owner"] == "own" else "managed user"
    user = f", id {ws['user_id']}" if ws["user_id"] is not None else ""
    folders = ", ".join(f"{f['id']} {f['name']}" for f in ws["folders"]) or "none"
    lines = [f"{ws['owner']}  ({label}{user})", f"  folders: {folders}"]
    for m in ws["manifests"]:
        lines.append(f"  manifest {m['id']} {m['name']!r} folder {m['folder_id']} ({m['status']})")
    for a in ws["assets"]:
        version = f" v{a['version']}" if a["version"] else ""
        running = ", running" if a["running"] else ""
        lines.append(
            f"  {a['type']} {a['id']} {a['name']!r}{version} in folder {a['folder_id']}{running}"
        )
    return lines

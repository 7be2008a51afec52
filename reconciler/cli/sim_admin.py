"""The generic layer under `rlcm sim` controls: send one admin action to a simulator.

An action is what `POST /__sim/ {"action": NAME, "args": {...}}` runs (simulator/admin.py,
one method of `Simulator` each). The same request goes to a simulator directory (handled in
this process, `--dir`) or to a running `rlcm sim serve` (`--url`), so a control behaves the
same either way. A new control is a few lines in sim_controls.py calling `send`, and every
action is reachable at once through `rlcm sim action NAME KEY=VALUE...`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "DEFAULT_DIR",
    "SimEndpoint",
    "config_endpoint",
    "endpoint_options",
    "parse_assignments",
    "send",
]

DEFAULT_DIR = Path(".rlcm/sim")
F = TypeVar("F", bound=Callable[..., Any])
# actions that make a simulator where there was none: no "seed it first" error for them
CREATING = frozenset({"seed_demo", "add_managed_user"})


@dataclass(frozen=True)
class SimEndpoint:
    """A simulator directory, or the base URL of a running `rlcm sim serve`."""

    directory: Path | None = None
    url: str | None = None

    def __str__(self) -> str:
        return self.url if self.url is not None else str(self.directory)

    @property
    def option(self) -> str:
        """The option that names it again, for hints such as `rlcm sim ids --dir DIR`."""
        return f"--url {self.url}" if self.url is not None else f"--dir {self.directory}"


def endpoint_options(func: F) -> F:
    """`--dir DIR`, `--url URL` or `-c CONFIG`, passed on as `endpoint: SimEndpoint`."""

    @click.option(
        "--dir",
        "directory",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help=f"A simulator directory (default {DEFAULT_DIR}).",
    )
    @click.option(
        "--url",
        default=None,
        metavar="URL",
        envvar="RLCM_SIM_URL",
        help="A running `rlcm sim serve`, e.g. http://127.0.0.1:8765 (or $RLCM_SIM_URL).",
    )
    @click.option(
        "-c",
        "--config",
        "config",
        type=click.Path(path_type=Path, exists=True),
        default=None,
        help="The simulator a config's source workspace uses (its sim://DIR or base_url).",
    )
    @functools.wraps(func)
    def wrapper(directory: Path | None, url: str | None, config: Path | None, **kw: Any) -> Any:
        return func(endpoint=_endpoint(directory, url, config), **kw)

    return wrapper  # type: ignore[return-value]


def _endpoint(directory: Path | None, url: str | None, config: Path | None) -> SimEndpoint:
    given = [name for name, v in (("--dir", directory), ("--url", url), ("-c", config)) if v]
    if len(given) > 1:
        raise click.UsageError(f"give one of {', '.join(given)}, not several")
    if url is not None:
        return SimEndpoint(url=url.rstrip("/"))
    if config is not None:
        return config_endpoint(config)
    return SimEndpoint(directory=directory or DEFAULT_DIR)


def config_endpoint(config: Path) -> SimEndpoint:
    from reconciler.config import load_desired
    from reconciler.errors import RlcmError

    try:
        workspace = load_desired(config).source_workspace
    except RlcmError as exc:
        raise click.ClickException(str(exc)) from None
    if workspace.base_url.startswith("sim://"):
        return SimEndpoint(directory=Path(workspace.base_url.removeprefix("sim://")))
    return SimEndpoint(url=workspace.base_url.rstrip("/"))


def parse_assignments(pairs: tuple[str, ...], what: str) -> dict[str, Any]:
    """KEY=VALUE pairs; a VALUE that is JSON (5, true, [1, 2], "5") is taken as JSON,
    anything else as a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=what)
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def send(endpoint: SimEndpoint, action: str, **args: Any) -> Any:
    """Run `action` with `args` on the simulator; its result, or a one-line ClickException."""
    body = json.dumps({"action": action, "args": args}).encode()
    if endpoint.url is not None:
        status, payload = _post(endpoint.url, body)
    else:
        status, payload = _in_process(endpoint, action, body)
    if status != 200:
        message = payload.get("error") or payload.get("message") or f"HTTP {status}"
        raise click.ClickException(f"simulator at {endpoint}: {action}: {message}")
    return payload.get("result")


def _in_process(endpoint: SimEndpoint, action: str, body: bytes) -> tuple[int, dict[str, Any]]:
    from reconciler.simulator import Simulator
    from reconciler.simulator.messages import Request

    directory = endpoint.directory or DEFAULT_DIR
    if action not in CREATING and not (directory / "workspaces").is_dir():
        raise click.ClickException(
            f"no simulator in {directory}: seed one with `rlcm sim seed demo --dir {directory}`"
            " (or point --dir, --url or -c at the one you use)"
        )
    request = Request("POST", "/__sim/", {}, {"content-type": "application/json"}, body)
    reply = Simulator(directory).handle(request)
    return reply.status, _json_object(reply.body)


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url}/__sim/", data=body, method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status), _json_object(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json_object(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise click.ClickException(
            f"cannot reach the simulator at {url}: {reason} (is `rlcm sim serve` running?)"
        ) from None


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {"error": "not a simulator (the answer is not JSON)"}
    return data if isinstance(data, dict) else {"error": "not a simulator"}

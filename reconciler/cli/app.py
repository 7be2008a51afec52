"""The root click group.

Commands are registered by name and imported only when run, so `rlcm --help` and
`rlcm validate` do not pay for httpx, rich or the simulator (see benchmarks/).
Each command module owns one command (or group) named in COMMANDS.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from reconciler import __version__

# command name -> "module:attribute"; help text is kept here so --help imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("reconciler.cli.validate:validate", "Load and check the config offline."),
    "schema": ("reconciler.cli.schema:schema", "Write the JSON Schema of the config."),
    "plan": ("reconciler.cli.plan:plan", "Refresh live state and show what would change."),
    "apply": ("reconciler.cli.apply:apply", "Apply a plan: manifests, exports, imports."),
    "drift": ("reconciler.cli.drift:drift", "Compare live state with the last apply."),
    "show": ("reconciler.cli.show:show", "Render a saved plan."),
    "state": ("reconciler.cli.state:state", "Inspect and repair the state file."),
    "adopt": ("reconciler.cli.adopt:adopt", "Record an existing live manifest in state."),
    "sim": ("reconciler.cli.sim:sim", "Run and seed the built-in Workato simulator."),
    "demo": ("reconciler.cli.demo:demo", "Seed a simulator and plan and apply the examples."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not _available(cmd_name):
            return None
        module_name, attr = entry[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except (KeyboardInterrupt, Exception) as exc:
            # a Ctrl-C while the module loads, before rlcm's error handling (options._run)
            # runs: click would say "Aborted!" (exit 1), or print a traceback of the
            # RuntimeError Python wraps it in when it lands while a class is created
            from reconciler.cli.options import exit_if_interrupted

            exit_if_interrupted(exc)
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    """A command whose module does not exist yet is not listed (modules land one by one)."""
    module_name = COMMANDS[name][0].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rlcm")
def cli() -> None:
    """rlcm: declarative GitOps for Workato recipe lifecycle management.

    Describe export manifests and customer targets in YAML; `rlcm plan` shows what
    would change, `rlcm apply` makes it so, `rlcm drift` says what moved.
    """


def main() -> None:
    sys.unraisablehook = interrupts_raised_again(sys.unraisablehook)
    try:
        cli(prog_name="rlcm")  # click's standalone mode ends in SystemExit
    finally:
        _quiet_exit()


def interrupts_raised_again(
    previous: Callable[[Any], object],
) -> Callable[[Any], object]:
    """An unraisable-exception hook that gives a swallowed Ctrl-C back.

    A KeyboardInterrupt that lands while pydantic-core builds a validator (a regex of a
    config field, compiled on first use) is printed as "Exception ignored" and lost, and
    the half-built validator then refuses valid config: the Ctrl-C came out as a config
    error, exit 1. This hook prints nothing for it and sends SIGINT again a moment later
    (raised at once, it would land in the hook and be swallowed once more), so that the
    interrupt lands in ordinary code (Error: interrupted, 130; in apply, a graceful stop)."""

    def hook(unraisable: Any) -> object:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            again = threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT))
            again.daemon = True
            again.start()
            return None
        return previous(unraisable)

    return hook


def _quiet_exit() -> None:
    """The command is over (its state recorded, its lock released, its output written):
    a Ctrl-C or SIGTERM from now on has nothing left to stop. Without this, a second
    Ctrl-C that lands while the interpreter shuts down prints a traceback from an atexit
    hook, or (once Python has reset its handlers) kills the process with no exit code."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            signal.signal(sig, signal.SIG_IGN)

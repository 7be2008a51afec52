"""Options shared by every command, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.errors import ConfigErrors, RlcmError
from reconciler.redact import RedactingFilter, redact

__all__ = [
    "DEFAULT_STATE_NAME",
    "GlobalOptions",
    "common_options",
    "echo_error",
    "exit_if_interrupted",
]

DEFAULT_STATE_NAME = "rlcm.state.json"
MAX_ERROR_LINES = 50  # config errors printed; the rest are counted
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class GlobalOptions:
    """What -c/--config, --state, -v, -q, --no-color and --debug said."""

    config: Path
    state_file: Path | None = None
    verbose: int = 0
    quiet: bool = False
    no_color: bool = False
    debug: bool = False

    @property
    def state_path(self) -> Path:
        """`--state`, else `rlcm.state.json` beside the config (file or directory)."""
        if self.state_file is not None:
            return self.state_file
        base = self.config if self.config.is_dir() else self.config.parent
        return base / DEFAULT_STATE_NAME

    @property
    def color(self) -> bool:
        """Colour only on a terminal, and never with --no-color or NO_COLOR set."""
        if self.no_color or os.environ.get("NO_COLOR"):
            return False
        return sys.stdout.isatty()


def echo_error(message: str) -> None:
    click.echo(redact(message), err=True)


def _configure_logging(opts: GlobalOptions) -> None:
    level = logging.WARNING
    if opts.quiet:
        level = logging.ERROR
    if opts.verbose == 1:
        level = logging.INFO
    if opts.verbose >= 2 or opts.debug:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("reconciler")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _run(opts: GlobalOptions, func: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Call a command; turn our errors into one line on stderr and an exit code."""
    try:
        return func(opts=opts, **kwargs)
    except ConfigErrors as exc:
        if opts.debug:
            raise
        lines = exc.lines()
        for error, line in zip(exc.errors, lines[:MAX_ERROR_LINES], strict=False):
            # `file:line:col: ...` is what editors and CI jump to; an error of a whole path
            # (missing, no YAML in it) has no position and reads like any other error
            positioned = error.location is not None and error.location.line > 0
            echo_error(line if positioned else f"Error: {line}")
        if len(lines) > MAX_ERROR_LINES:  # a flood helps nobody; the first ones show the way
            echo_error(f"... and {len(lines) - MAX_ERROR_LINES} more errors")
        sys.exit(exc.exit_code)
    except RlcmError as exc:
        if opts.debug:
            raise
        echo_error(f"Error: {exc}")
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: not an error of ours, and nothing to say
        sys.stderr.close()
        sys.exit(1)
    except KeyboardInterrupt as exc:
        exit_if_interrupted(exc)
        raise
    except (click.exceptions.Exit, click.ClickException, SystemExit):
        raise
    except Exception as exc:
        exit_if_interrupted(exc)  # a Ctrl-C wrapped on its way (RuntimeError of __set_name__)
        if opts.debug:
            raise
        echo_error(f"Error: internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
        sys.exit(1)


def exit_if_interrupted(exc: BaseException) -> None:
    """A Ctrl-C, or an error one caused, ends rlcm as `Error: interrupted`, exit 130: in a
    command (`_run`) and while click loads the command's module (cli/app.py) alike."""
    if _from_interrupt(exc):
        echo_error("Error: interrupted")
        sys.exit(130)


def _from_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt caused `exc`: Python wraps one that lands while a class
    is being created (say, a Ctrl-C while rlcm's modules load) in a RuntimeError."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def common_options(func: F) -> F:
    """Add the common options to a command and pass them as `opts: GlobalOptions`."""

    @click.option(
        "-c",
        "--config",
        "config",
        type=click.Path(path_type=Path),
        envvar="RLCM_CONFIG",
        default=".",
        show_default="$RLCM_CONFIG, else .",
        help="A YAML file or a directory of *.yaml/*.yml files.",
    )
    @click.option(
        "--state",
        "state_file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="State file (default: rlcm.state.json beside the config).",
    )
    @click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
    @click.option("-q", "--quiet", is_flag=True, help="Only errors.")
    @click.option("--no-color", is_flag=True, help="No colour (also honours NO_COLOR).")
    @click.option("--debug", is_flag=True, help="Debug logs and tracebacks (secrets stay hidden).")
    @functools.wraps(func)
    def wrapper(
        config: Path,
        state_file: Path | None,
        verbose: int,
        quiet: bool,
        no_color: bool,
        debug: bool,
        **kwargs: Any,
    ) -> Any:
        opts = GlobalOptions(config, state_file, verbose, quiet, no_color, debug)
        _configure_logging(opts)
        return _run(opts, func, kwargs)

    return wrapper  # type: ignore[return-value]

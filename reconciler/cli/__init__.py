"""The `rlcm` command line. Commands live in one module each and load lazily."""

from reconciler.cli.app import cli, main

__all__ = ["cli", "main"]

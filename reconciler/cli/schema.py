"""`rlcm schema`: write the JSON Schema of the config and the configuration reference."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click


@click.command("schema")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("schemas"),
    show_default=True,
    help="Directory to write rlcm.schema.json into.",
)
@click.option(
    "--docs",
    "docs_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("docs"),
    show_default=True,
    help="Directory to write the configuration reference (configuration.md) into.",
)
def schema(out_dir: Path, docs_dir: Path) -> None:
    """Write the JSON Schema and the configuration reference generated from it."""
    from reconciler.config.docgen import DOC_FILE_NAME, default_examples_dir, reference_markdown
    from reconciler.config.schema import SCHEMA_FILE_NAME, config_json_schema, schema_text

    reference = reference_markdown(config_json_schema(), default_examples_dir())
    for target, text in (
        (out_dir / SCHEMA_FILE_NAME, schema_text()),
        (docs_dir / DOC_FILE_NAME, reference),
    ):
        _write(target, text)
        click.echo(f"Wrote {target}")


def _write(target: Path, text: str) -> None:
    """Atomically (temp file + rename): a reader never sees half a file."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None

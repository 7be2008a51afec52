"""`rlcm schema`: write the JSON Schema of the config for editors and CI."""

from __future__ import annotations

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
def schema(out_dir: Path) -> None:
    """Write the JSON Schema of the config (schemas/rlcm.schema.json)."""
    from reconciler.config.schema import SCHEMA_FILE_NAME, schema_text

    target = out_dir / SCHEMA_FILE_NAME
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        target.write_text(schema_text(), encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
    click.echo(f"Wrote {target}")

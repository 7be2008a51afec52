"""`plan --diff-content` output: each manifest's content changes, in recipe terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from reconciler.plan import ContentPreview

__all__ = ["render_previews"]


def render_previews(
    previews: Sequence[ContentPreview], out: TextIO, *, markdown: bool = False
) -> None:
    out.write("\n### Content changes\n\n" if markdown else "\nContent changes:\n")
    if not previews:
        none = "nothing to compare: the plan exports no package"
        out.write(f"{none}\n" if markdown else f"  {none}\n")
        return
    for preview in previews:
        compared = (
            f" (package {preview.compared[0]} -> {preview.compared[1]})" if preview.compared else ""
        )
        lines = list(preview.sentences) or [preview.note or "no difference"]
        if markdown:
            out.write(f"<details><summary>{preview.manifest}{compared}</summary>\n\n")
            out.writelines(f"- {line}\n" for line in lines)
            out.write("\n</details>\n\n")
        else:
            out.write(f"  {preview.manifest}{compared}:\n")
            out.writelines(f"    {line}\n" for line in lines)

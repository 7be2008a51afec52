"""The hand-written docs: links resolve, every CLI option is documented, every error class
has a troubleshooting section."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from reconciler import errors
from reconciler.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix} {name}")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    links = LINK.findall(page.read_text(encoding="utf-8"))
    broken = [target for target in links if _is_broken(page, target)]
    assert not broken, f"{page.name}: broken links {broken}"


def _is_broken(page: Path, target: str) -> bool:
    if target.startswith(("http://", "https://", "mailto:")):
        return False
    path_part, _, anchor = target.partition("#")
    linked = (page.parent / path_part).resolve() if path_part else page
    if not linked.exists():
        return True
    return bool(anchor) and linked.suffix == ".md" and anchor not in _anchors(linked)


def test_every_command_and_option_is_in_the_command_reference() -> None:
    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    missing = []
    for name, command in _commands(cli, "rlcm"):
        if name not in text:
            missing.append(name)
        for param in command.params:
            if isinstance(param, click.Option):
                flags = [f for f in (*param.opts, *param.secondary_opts) if f.startswith("--")]
                missing += [f"{name} {f}" for f in flags if f != "--help" and f not in text]
    assert not missing, f"not documented in docs/commands.md: {missing}"


def test_every_error_class_has_a_troubleshooting_section() -> None:
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    headings = "\n".join(re.findall(r"^#+ .+$", text, re.MULTILINE))
    classes = [
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), errors.RlcmError)
        and name not in {"RlcmError", "ApiError", "ConfigErrors"}
    ]
    assert classes
    missing = [name for name in classes if name not in headings]
    assert not missing, f"error classes without a section in troubleshooting.md: {missing}"


def test_troubleshooting_explains_every_failing_import_result() -> None:
    from reconciler.report import IMPORT_RESULT_EXPLANATIONS, SUCCESS_RESULTS

    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    failing = set(IMPORT_RESULT_EXPLANATIONS) - SUCCESS_RESULTS
    assert failing == {"not_found", "stop_failed", "stopped", "restart_failed"}
    for value in failing:
        assert f"| `{value}` |" in text


def test_ci_guide_exit_codes_match_the_commands() -> None:
    text = (DOCS / "ci.md").read_text(encoding="utf-8")
    assert "| `rlcm apply` | all steps succeeded | error | | some imports failed" in text
    assert "| `rlcm plan --detailed-exitcode` | no changes | error | changes | |" in text
    assert "| `rlcm drift` | no drift | error | drift | |" in text


def test_the_docs_index_lists_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in PAGES if p.name != "README.md" and f"]({p.name})" not in index]
    assert not missing, f"docs/README.md does not list {missing}"

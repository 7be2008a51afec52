"""Loading the YAML config: files -> documents -> kinds -> the resolved DesiredState.

load_desired(path)  the DesiredState, or ConfigErrors listing every problem found
load_config(path)   the same plus warnings (e.g. unknown asset types), for `rlcm validate`
load_state_spec(path) only the `kind: State` document, for `rlcm state ...`
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.config.desired import DesiredState, StateSpec
from reconciler.errors import ConfigError, ConfigErrors, Location

__all__ = ["LoadedConfig", "load_config", "load_desired", "load_state_spec"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedConfig:
    """A valid config and the warnings found while loading it."""

    desired: DesiredState
    warnings: list[ConfigError] = field(default_factory=list)


def load_config(path: Path) -> LoadedConfig:
    """Load a YAML file or a directory of them; raise ConfigErrors with every problem."""
    from reconciler.config.loader import load_documents
    from reconciler.config.resolve import resolve
    from reconciler.config.validation import Parsed, validate_document

    documents, errors, files = load_documents(path)
    parsed: list[Parsed] = []
    broken: dict[str, set[str]] = {}
    for document in documents:
        one, problems = validate_document(document)
        errors.extend(problems)
        if one is not None:
            parsed.append(one)
        else:
            _note_broken(document.data, broken)
    if not files or (not documents and errors):
        raise ConfigErrors(errors)
    if not documents:
        raise ConfigErrors([ConfigError("the config declares nothing", Location(str(path)))])
    resolution = resolve(parsed, files, str(path), broken)
    errors.extend(resolution.errors)
    if errors or resolution.desired is None:
        raise ConfigErrors(errors)
    return LoadedConfig(resolution.desired, sorted(resolution.warnings, key=_position))


def load_desired(path: Path) -> DesiredState:
    """The resolved desired state of the config at `path`; warnings go to the log."""
    loaded = load_config(path)
    for warning in loaded.warnings:
        log.warning("config: %s", warning.message)
    return loaded.desired


def load_state_spec(path: Path) -> StateSpec:
    """Where the config at `path` keeps its state, reading only its `kind: State` document,
    so that `rlcm state unlock` works while the rest of the config is being fixed. No
    config files, or no State document: the file backend."""
    from reconciler.config.loader import load_documents
    from reconciler.config.resolve import state_spec
    from reconciler.config.validation import validate_document

    documents, errors, files = load_documents(path)
    if not files:
        return StateSpec()
    if errors:
        raise ConfigErrors(errors)
    found = [d for d in documents if isinstance(d.data, dict) and d.data.get("kind") == "State"]
    specs: list[StateSpec] = []
    for document in found[:1]:
        parsed, problems = validate_document(document)
        errors.extend(problems)
        if parsed is not None:
            specs.append(state_spec(parsed, errors.append))
    if len(found) > 1:
        first = found[0].location
        errors.append(
            ConfigError(f"only one State is allowed (first at {first})", found[1].location)
        )
    if errors:
        raise ConfigErrors(errors)
    return specs[0] if specs else StateSpec()


def _note_broken(data: object, broken: dict[str, set[str]]) -> None:
    """Remember the kind and name of a document that failed, to avoid follow-on errors."""
    if isinstance(data, dict) and isinstance(data.get("kind"), str):
        name = data.get("name")
        if isinstance(name, str):
            broken.setdefault(data["kind"], set()).add(name)


def _position(error: ConfigError) -> tuple[str, int, int]:
    loc = error.location
    return (loc.file, loc.line, loc.col) if loc else ("", 0, 0)

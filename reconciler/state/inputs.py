"""What a command starts from: the config, the state store, and the state read from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.config.desired import DesiredState
    from reconciler.state.backends import StateBackend
    from reconciler.state.model import State

__all__ = ["Inputs"]


@dataclass
class Inputs:
    """The config and the state, as read at the start of a command."""

    desired: DesiredState
    store: StateBackend
    state: State

    @property
    def cache_dir(self) -> Path:
        """Packages by digest, beside the state file (or the config): `.rlcm/cache/`."""
        return self.store.local_dir / ".rlcm" / "cache"

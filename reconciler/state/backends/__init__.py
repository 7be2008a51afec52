"""State backends: where a config's state lives (see base.py for the contract).

- `file` (default): `rlcm.state.json` beside the config (or `--state FILE`), a lock file
  beside it, the last serials in `.rlcm/history/`; fine for git.
- `postgres`: a table row per config key, an advisory lock, every serial kept.

`open_backend` picks one from the settings of a config's `kind: State` document.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.config.desired import StateSpec
from reconciler.state.backends.base import HeldLockLike, HistoryEntry, StateBackend
from reconciler.state.backends.file import DEFAULT_FILE_HISTORY, FileBackend

__all__ = [
    "FileBackend",
    "HeldLockLike",
    "HistoryEntry",
    "StateBackend",
    "open_backend",
]


def open_backend(settings: StateSpec, *, state_file: Path, local_dir: Path) -> StateBackend:
    """The backend the settings name; `state_file` is the file backend's path."""
    if settings.backend == "postgres":
        from reconciler.state.backends.postgres import DEFAULT_PG_HISTORY, PostgresBackend

        assert settings.dsn_env is not None  # the config requires it
        return PostgresBackend(
            settings.dsn_env,
            key=settings.key,
            schema=settings.schema,
            keep=DEFAULT_PG_HISTORY if settings.history is None else settings.history,
            lock_timeout=settings.lock_timeout,
            local_dir=local_dir,
            config_where=str(settings.location or ""),
        )
    keep = DEFAULT_FILE_HISTORY if settings.history is None else settings.history
    return FileBackend(state_file, keep=keep)

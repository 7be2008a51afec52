"""Critical sections that a Ctrl-C or SIGTERM must not cut in half.

Taking or releasing the state lock, and swapping the apply's signal handlers, are short
steps that leave a mess when a KeyboardInterrupt lands between two of their lines (a lock
file this run holds but nobody releases, or a moment with SIGTERM's default disposition,
which kills the process with its lock held). `signals_deferred()` blocks SIGINT and SIGTERM
at the OS level for the length of such a step; a signal that arrives meanwhile stays
pending and is delivered (to whatever handler is then installed) when the step ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["signals_deferred"]

DEFERRED = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (main thread on POSIX; elsewhere a no-op:
    only the main thread runs Python signal handlers)."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = mask(signal.SIG_BLOCK, DEFERRED)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, previous)

"""What Workato says now: the live-state model (model.py), the reads that fill it within the
quotas (refresh.py), and adopting a live manifest into state (adopt.py).

This file re-exports only the data model, so importing it stays cheap.
"""

# the model's own __all__ is the one list of what this package offers
from reconciler.live.model import *  # noqa: F403
from reconciler.live.model import __all__ as __all__

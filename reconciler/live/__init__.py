"""What Workato says now: the live-state model (model.py), the reads that fill it within the
quotas (refresh.py), and adopting a live manifest into state (adopt.py).

This file re-exports only the data model, so importing it stays cheap.
"""

from reconciler.live.model import (
    MANIFEST_ARCHIVED,
    MANIFEST_GONE,
    MANIFEST_WORKING,
    LiveAsset,
    LiveManifest,
    LiveRecipe,
    LiveState,
    asset_key,
)

__all__ = [
    "MANIFEST_ARCHIVED",
    "MANIFEST_GONE",
    "MANIFEST_WORKING",
    "LiveAsset",
    "LiveManifest",
    "LiveRecipe",
    "LiveState",
    "asset_key",
]

"""State: what rlcm has done that the API cannot be asked (see state/model.py)."""

from reconciler.state.model import (
    FORMAT_VERSION,
    AssetStamp,
    ImportRecord,
    ManifestRecord,
    PackageRecord,
    PendingManifest,
    RecipeResult,
    State,
    import_key,
)

__all__ = [
    "FORMAT_VERSION",
    "AssetStamp",
    "ImportRecord",
    "ManifestRecord",
    "PackageRecord",
    "PendingManifest",
    "RecipeResult",
    "State",
    "import_key",
]

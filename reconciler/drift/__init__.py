"""Read-only comparison of live state with what was last applied (detect.py), as data;
render/ writes it as text, JSON and Markdown.
"""

# the model's own __all__ is the one list of what this package offers
from reconciler.drift.detect import *  # noqa: F403
from reconciler.drift.detect import __all__ as __all__

"""What an apply did, as data (model.py); render/ turns it into text, JSON, Markdown and
JUnit XML, and render/progress.py shows it while it happens.
"""

# the model's own __all__ is the one list of what this package offers
from reconciler.report.model import *  # noqa: F403
from reconciler.report.model import __all__ as __all__

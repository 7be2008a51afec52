"""What an apply did, as data (model.py); render/ turns it into text, JSON, Markdown and
JUnit XML, and render/progress.py shows it while it happens.
"""

from reconciler.report.model import (
    EXIT_DEADLINE,
    FORMAT_VERSION,
    IMPORT_RESULT_EXPLANATIONS,
    STEP_KINDS,
    STEP_STATUSES,
    SUCCESS_RESULTS,
    ApplyReport,
    Counts,
    RecipeOutcome,
    StepKind,
    StepOutcome,
    StepStatus,
    explain_import_result,
)

__all__ = [
    "EXIT_DEADLINE",
    "FORMAT_VERSION",
    "IMPORT_RESULT_EXPLANATIONS",
    "STEP_KINDS",
    "STEP_STATUSES",
    "SUCCESS_RESULTS",
    "ApplyReport",
    "Counts",
    "RecipeOutcome",
    "StepKind",
    "StepOutcome",
    "StepStatus",
    "explain_import_result",
]

"""Apply a plan: manifests, one export per manifest, imports in waves (see runner.py)."""

from reconciler.applier.packages import Package
from reconciler.applier.recorder import Recorder
from reconciler.applier.runner import RunSettings, run_plan
from reconciler.applier.steps import StepContext
from reconciler.content.cache import PackageCache

__all__ = ["Package", "PackageCache", "Recorder", "RunSettings", "StepContext", "run_plan"]

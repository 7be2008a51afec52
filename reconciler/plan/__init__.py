"""(desired, state, live) -> Plan, with no I/O.

    model.py          the Plan as plain data (what renderers and the applier read)
    planner.py        build_plan: manifests, exports and, through imports.py, per-target imports
    imports.py        which targets need an import, and why
    compare.py        live and recorded assets compared, as Diff values
    manifest_body.py  the manifest body the config asks for, and its digest
    safety.py         the safety rules apply enforces unless --force

This file re-exports only the data model, so importing it stays cheap.
"""

# the model's own __all__ is the one list of what this package offers
from reconciler.plan.model import *  # noqa: F403
from reconciler.plan.model import __all__ as __all__

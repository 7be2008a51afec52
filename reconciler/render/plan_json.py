"""A plan as JSON for machines and for `--out`: versioned, stable, byte-identical.

The document is `Plan.to_dict()`: `kind: "rlcm-plan"`, `format_version`, the
fingerprints a saved plan is checked against (`state_serial`, `state_lineage`,
`live_fingerprint`, `config_digest`), `refreshed_targets`, `waves`, `warnings`,
`estimate` (the apply's duration at least at the configured quotas: `seconds`,
`binding`, `text`, `terms`; null for an empty plan), `summary` (counts and the summary
line) and `changes` in execution order, each with
`address`, `kind`, `action`, `manifest`, `target`, `wave`, `reasons`, `details`
(`path`, `change`, `before`, `after`), `depends_on` and `data` (the applier's payload).
Keys are sorted and nothing time-dependent is written, so identical inputs give
identical bytes.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from reconciler.errors import PlanError
from reconciler.plan import Plan

__all__ = ["dumps_plan", "load_plan", "render_plan_json"]


def dumps_plan(plan: Plan) -> str:
    return _dumps(plan.to_dict())


def render_plan_json(plan: Plan, out: TextIO) -> None:
    out.write(dumps_plan(plan))


def load_plan(text: str, source: str = "saved plan") -> Plan:
    """Read a plan written by `render_plan_json`; a clear PlanError for anything else."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{source}: not JSON ({exc})") from None
    try:
        return Plan.from_dict(raw)
    except PlanError as exc:
        raise PlanError(f"{source}: {exc}") from None


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

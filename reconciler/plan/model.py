"""A plan: the changes that would make live match the config, as plain data.

The planner (planner.py) builds it, renderers (render/) print it, the applier executes it
and `--out` saves it. Nothing here does I/O or imports a heavy library.

Addresses are stable across runs so reviewers and `--target` can name them:
- `manifest.NAME`         create | update | recreate | delete | forget (the state record)
- `export.NAME`           export (a new package, or an export in progress to poll)
- `import.NAME@TARGET`    import | forget (the state record of an unconfigured import)
- `recipes.TARGET`        start | stop (the target's imported recipes, `recipes:` in config)

A change's `data` is everything the applier needs without re-reading the config; see
`Change.data`. The JSON form (`Plan.to_dict()`) is versioned by `FORMAT_VERSION` and is
byte-identical for identical inputs: no timestamps, keys sorted, changes in plan order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from reconciler.errors import PlanError

__all__ = [
    "ACTIONS",
    "FORMAT_VERSION",
    "KINDS",
    "PLAN_KIND",
    "Action",
    "Change",
    "ContentPreview",
    "Kind",
    "Plan",
    "PlanSummary",
    "with_dependencies",
]

FORMAT_VERSION = 1
PLAN_KIND = "rlcm-plan"
Action = Literal[
    "create", "update", "recreate", "delete", "export", "import", "forget", "start", "stop"
]
Kind = Literal["manifest", "export", "import", "recipes"]
ACTIONS: tuple[Action, ...] = (
    "create",
    "update",
    "recreate",
    "delete",
    "export",
    "import",
    "forget",
    "start",
    "stop",
)
KINDS: tuple[Kind, ...] = ("manifest", "export", "import", "recipes")


@dataclass(frozen=True, slots=True)
class Change:
    """One step of a plan.

    - `reasons`: sentences a reviewer understands ("never imported").
    - `details`: field-level differences, each a plain dict with `path`, `change`
      (`changed` | `added` | `removed`) and `before`/`after` where they apply, e.g.
      `{"path": "assets[recipe:Sync accounts].version", "change": "changed",
      "before": 3, "after": 5}`.
    - `depends_on`: addresses of planned changes that must finish first.
    - `data`: the applier's payload. Manifests: `body` (the resolved manifest body as
      sent to Workato), `spec_digest`, `manifest_id` (the live id for update, recreate,
      delete), `workspace`, `owner`. Exports: `manifest`, `manifest_id` (None when the
      manifest is created in the same apply), `spec_digest`, `asset_versions` (what the
      package is expected to hold; record exactly these), `resume_package_id`.
      Imports: `manifest`, `target`, `workspace`, `customer`, `folder_id`,
      `restart_recipes`, `include_tags`, `folder_id_for_home_assets`, `package`
      (`{"id", "digest"}` when no export precedes it, else None), `resume_import_id` (an
      import in progress to poll first), `poll_only` (True: polling it is all there is to
      do), `first_import`, `folder_path` (a folder named by path; `folder_id` 0 when apply
      must create it first), `create_folders`, `fleet` (the generated Fleet). Exports:
      `resume_package_id` set means poll that export instead of starting one. Recipes:
      `target`, `workspace`, `customer`, `folder_id`, `manifests` (whose packages' recipes
      to start or stop), `recipes` (the declared state).
    """

    address: str
    kind: Kind
    action: Action
    manifest: str
    target: str | None = None
    wave: str | None = None
    reasons: tuple[str, ...] = ()
    details: tuple[Mapping[str, Any], ...] = ()
    depends_on: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "action": self.action,
            "manifest": self.manifest,
            "target": self.target,
            "wave": self.wave,
            "reasons": list(self.reasons),
            "details": [dict(d) for d in self.details],
            "depends_on": list(self.depends_on),
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Change:
        kind, action = raw["kind"], raw["action"]
        if kind not in KINDS or action not in ACTIONS:
            raise PlanError(f"saved plan: unknown change {kind}/{action} at {raw.get('address')}")
        from reconciler.plan.payload import check_payload

        data = raw.get("data", {})
        if not isinstance(data, Mapping):
            raise PlanError(f"change {raw.get('address')}: data is not an object")
        check_payload(str(raw["address"]), kind, action, data)
        return cls(
            address=str(raw["address"]),
            kind=cast(Kind, kind),
            action=cast(Action, action),
            manifest=str(raw["manifest"]),
            target=raw.get("target"),
            wave=raw.get("wave"),
            reasons=tuple(raw.get("reasons", ())),
            details=tuple(dict(d) for d in raw.get("details", ())),
            depends_on=tuple(raw.get("depends_on", ())),
            data=dict(raw.get("data", {})),
        )


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """Counts a reviewer reads first, and the Terraform-like line that states them."""

    manifests: Mapping[str, int]  # action -> count (create, update, recreate, delete, forget)
    exports: int
    imports: int
    targets: int  # distinct targets with at least one import
    waves: Mapping[str, int]  # wave -> imports, in wave order, only waves with imports
    forgets: int  # state records of imports to forget
    recipes: Mapping[str, int] = field(default_factory=dict)  # start|stop -> targets

    @property
    def total(self) -> int:
        counted = self.exports + self.imports + self.forgets + sum(self.recipes.values())
        return sum(self.manifests.values()) + counted

    def line(self) -> str:
        """`Plan: 1 manifest to create, 1 to update, 2 exports, 24 imports across ...`."""
        if self.total == 0:
            return "No changes."
        parts = _manifest_parts(self.manifests)
        if self.exports:
            parts.append(_count(self.exports, "export"))
        if self.imports:
            waves = ", ".join(f"wave {w}: {n}" for w, n in self.waves.items())
            parts.append(
                f"{_count(self.imports, 'import')} across {_count(self.targets, 'target')}"
                f" ({waves})"
            )
        for verb, n in self.recipes.items():
            parts.append(f"recipes to {verb} on {_count(n, 'target')}")
        if self.forgets:
            parts.append(f"{_count(self.forgets, 'import record')} to forget")
        return "Plan: " + ", ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifests": dict(self.manifests),
            "exports": self.exports,
            "imports": self.imports,
            "targets": self.targets,
            "waves": dict(self.waves),
            "forgets": self.forgets,
            "recipes": dict(self.recipes),
            "line": self.line(),
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _manifest_parts(counts: Mapping[str, int]) -> list[str]:
    parts: list[str] = []
    for action in ("create", "update", "recreate", "delete", "forget"):
        n = counts.get(action, 0)
        if n:
            noun = _count(n, "manifest") if not parts else str(n)
            parts.append(f"{noun} to {action}")
    return parts


@dataclass(frozen=True, slots=True)
class Plan:
    """Changes in execution order, plus the fingerprints a saved plan is checked against."""

    changes: tuple[Change, ...]
    waves: tuple[str, ...]
    state_serial: int
    state_lineage: str
    live_fingerprint: str
    config_digest: str
    refreshed_targets: bool
    warnings: tuple[str, ...] = ()
    wave: str | None = None  # narrowed to one wave (`--wave`): its imports and their needs
    # how long the apply takes at least, at the believed quotas (plan/estimate.py):
    # `{"seconds", "binding", "text", "terms": [{"text", "seconds"}]}`, None when empty
    estimate: Mapping[str, Any] | None = None

    @property
    def estimate_text(self) -> str | None:
        return None if self.estimate is None else str(self.estimate["text"])

    # target -> its imported recipes' health as the refresh read it (Recipes API): id,
    # name, version, running, stop_cause, stopped_at, job counts, last_run_at. Data for
    # readers of the JSON plan; it plays no part in applying it.
    recipe_health: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    rollback_to: int | None = None  # `plan --rollback-to N`: the packages of serial N

    @property
    def is_empty(self) -> bool:
        return not self.changes

    @property
    def summary(self) -> PlanSummary:
        manifests: Counter[str] = Counter()
        recipes: Counter[str] = Counter()
        exports = imports = forgets = 0
        targets: set[str] = set()
        per_wave: Counter[str] = Counter()
        for change in self.changes:
            if change.kind == "manifest":
                manifests[change.action] += 1
            elif change.kind == "export":
                exports += 1
            elif change.kind == "recipes":
                recipes[change.action] += 1
            elif change.action == "forget":
                forgets += 1
            else:
                imports += 1
                targets.add(change.target or "")
                per_wave[change.wave or ""] += 1
        waves = {w: per_wave[w] for w in self._wave_order(per_wave) if per_wave[w]}
        summary = PlanSummary(dict(manifests), exports, imports, len(targets), waves, forgets)
        return replace(summary, recipes={v: recipes[v] for v in ("start", "stop") if recipes[v]})

    def _wave_order(self, seen: Mapping[str, int]) -> list[str]:
        return list(self.waves) + sorted(w for w in seen if w not in self.waves)

    def by_address(self) -> dict[str, Change]:
        return {c.address: c for c in self.changes}

    def to_dict(self) -> dict[str, Any]:
        body = self._body()
        return {**body, "plan_digest": plan_digest(body)}

    def _body(self) -> dict[str, Any]:
        extra: dict[str, Any] = (
            {} if self.rollback_to is None else {"rollback_to": self.rollback_to}
        )
        if self.wave is not None:  # only then: other saved plans stay byte-identical
            extra["wave"] = self.wave
        return {
            "kind": PLAN_KIND,
            "format_version": FORMAT_VERSION,
            "state_serial": self.state_serial,
            "state_lineage": self.state_lineage,
            "live_fingerprint": self.live_fingerprint,
            "config_digest": self.config_digest,
            "refreshed_targets": self.refreshed_targets,
            "waves": list(self.waves),
            "warnings": list(self.warnings),
            "estimate": None if self.estimate is None else dict(self.estimate),
            **extra,
            "summary": self.summary.to_dict(),
            "changes": [c.to_dict() for c in self.changes],
            "recipe_health": {t: [dict(r) for r in rows] for t, rows in self.recipe_health.items()},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Plan:
        """Read a saved plan; refuse other files and other format versions clearly."""
        if not isinstance(raw, Mapping) or raw.get("kind") != PLAN_KIND:
            raise PlanError('not an rlcm plan (expected "kind": "rlcm-plan")')
        version = raw.get("format_version")
        if version != FORMAT_VERSION:
            raise PlanError(
                f"saved plan has format_version {version}; this rlcm reads {FORMAT_VERSION}"
            )
        try:
            plan = cls(
                changes=tuple(Change.from_dict(c) for c in raw["changes"]),
                waves=tuple(raw["waves"]),
                state_serial=int(raw["state_serial"]),
                state_lineage=str(raw["state_lineage"]),
                live_fingerprint=str(raw["live_fingerprint"]),
                config_digest=str(raw["config_digest"]),
                refreshed_targets=bool(raw["refreshed_targets"]),
                warnings=tuple(raw.get("warnings", ())),
                wave=raw.get("wave"),
                estimate=raw.get("estimate") if isinstance(raw.get("estimate"), dict) else None,
                recipe_health={
                    str(t): tuple(dict(r) for r in rows)
                    for t, rows in (raw.get("recipe_health") or {}).items()
                },
                rollback_to=None if raw.get("rollback_to") is None else int(raw["rollback_to"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanError(f"saved plan is incomplete or malformed: {exc}") from None
        _check_digest(raw)
        return plan

    def select(self, addresses: Sequence[str]) -> Plan:
        """The same plan keeping only `addresses` (in plan order)."""
        keep = set(addresses)
        return Plan(
            changes=tuple(c for c in self.changes if c.address in keep),
            waves=self.waves,
            state_serial=self.state_serial,
            state_lineage=self.state_lineage,
            live_fingerprint=self.live_fingerprint,
            config_digest=self.config_digest,
            refreshed_targets=self.refreshed_targets,
            warnings=self.warnings,
            wave=self.wave,
            recipe_health=self.recipe_health,
            rollback_to=self.rollback_to,
        )

    def for_wave(self, wave: str) -> Plan:
        """Only wave `wave`'s imports and what they depend on (their manifests and exports),
        as `rlcm plan|apply --wave` runs one wave of a rollout in its own CI job."""
        keep = with_dependencies(
            self.changes,
            {c.address for c in self.changes if c.kind in ("import", "recipes") and c.wave == wave},
        )
        return dataclasses.replace(self.select(sorted(keep)), wave=wave)


def with_dependencies(changes: Iterable[Change], addresses: Iterable[str]) -> set[str]:
    """`addresses` and every planned change they depend on, transitively."""
    by_address = {c.address: c for c in changes}
    keep = set(addresses)
    todo = list(keep)
    while todo:
        for dep in by_address[todo.pop()].depends_on:
            if dep not in keep and dep in by_address:
                keep.add(dep)
                todo.append(dep)
    return keep


def plan_digest(body: Mapping[str, Any]) -> str:
    """sha256 over the plan's canonical JSON (everything but `plan_digest` itself)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _check_digest(raw: Mapping[str, Any]) -> None:
    """Refuse a saved plan edited since it was written. Not a signature (anyone can
    compute the digest again): it catches hand edits and damage, and with the config
    digest checked on apply, a plan of another config."""
    recorded = raw.get("plan_digest")
    if recorded is None:
        raise PlanError("saved plan has no plan_digest (an older rlcm wrote it): plan again")
    actual = plan_digest({k: v for k, v in raw.items() if k != "plan_digest"})
    if recorded != actual:
        raise PlanError(
            f"saved plan was changed since it was written (plan_digest {recorded}, its "
            f"content gives {actual}): run `rlcm plan --out` again"
        )


@dataclass(frozen=True)
class ContentPreview:
    """The content changes of one manifest's next package, or why there are none to show."""

    manifest: str
    sentences: tuple[str, ...] = ()
    note: str | None = None
    compared: tuple[int, int] | None = None  # (last package id, preview package id)

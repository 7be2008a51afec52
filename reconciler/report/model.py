"""What an apply did: every step's outcome and every recipe's `import_result`.

Plain data with no I/O. The applier builds one `StepOutcome` per finished (or skipped)
step and an `ApplyReport` at the end; `render/report_*.py` turn it into text, JSON,
Markdown and JUnit XML. `to_dict()` is the versioned JSON schema documented in
`docs/report-format.md`.

Whether an import failed is decided here, not only by the applier: an import whose job
completed but which lists a failing recipe (or an `import_result` rlcm does not know)
counts as failed, so every renderer and the exit code agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from reconciler.errors import RlcmError
from reconciler.facts import IMPORT_RESULT_SUCCESSES

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

FORMAT_VERSION = 1
StepKind = Literal["manifest", "export", "import", "recipes"]
EXIT_DEADLINE = 4  # `rlcm apply --max-duration`: stopped at the deadline, run again
StepStatus = Literal["succeeded", "failed", "skipped", "interrupted"]


class PlannedStep(Protocol):
    """What a step's outcome takes from the plan's change (plan/model.py `Change`)."""

    @property
    def address(self) -> str: ...
    @property
    def kind(self) -> StepKind: ...
    @property
    def action(self) -> str: ...
    @property
    def manifest(self) -> str: ...
    @property
    def target(self) -> str | None: ...
    @property
    def wave(self) -> str | None: ...


STEP_KINDS: tuple[StepKind, ...] = ("manifest", "export", "import", "recipes")
_TARGET_KINDS = ("import", "recipes")  # steps of one target
STEP_STATUSES: tuple[StepStatus, ...] = ("succeeded", "failed", "skipped", "interrupted")

SUCCESS_RESULTS = IMPORT_RESULT_SUCCESSES  # both spellings; see reconciler/facts.py

# From the embedded API document, "Recipe import_result values".
_NO_RESTART = "No restart was needed: the recipe was updated without one, or not changed."
IMPORT_RESULT_EXPLANATIONS: Mapping[str, str] = {
    "no_update_or_update_without_restart": _NO_RESTART,
    "no_update_or_updated_without_restart": _NO_RESTART,
    "restarted": "Workato restarted the recipe after updating it.",
    "not_found": "The recipe could not be found (unexpected); it was not updated.",
    "stop_failed": (
        "The running recipe had to be stopped for the update but could not be; it was not updated."
    ),
    "stopped": (
        "Workato stopped the recipe but did not restart it because of errors in the "
        "recipe; it was updated but is not running."
    ),
    "restart_failed": ("Workato updated the recipe but failed to restart it; it is not running."),
}
_KIND_RANK = {kind: rank for rank, kind in enumerate(STEP_KINDS)}


def explain_import_result(value: str) -> str:
    """A one-sentence explanation of an `import_result`, unknown values included."""
    known = IMPORT_RESULT_EXPLANATIONS.get(value)
    if known is not None:
        return known
    return f"Unknown import_result {value!r} (not in Workato's documents); counted as a failure."


@dataclass(frozen=True)
class RecipeOutcome:
    """One recipe of an import and what Workato said happened to it."""

    id: int | None  # None: Workato's answer gave none (optional in its OpenAPI)
    name: str | None
    import_result: str
    position: int | None = None  # 1-based place in the answer's recipe_status
    # the recipe's health as read after the target's imports (Recipes API); None: not read
    running: bool | None = None
    stop_cause: str | None = None
    job_succeeded_count: int | None = None
    job_failed_count: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.import_result in SUCCESS_RESULTS

    @property
    def explanation(self) -> str:
        return explain_import_result(self.import_result)

    @property
    def label(self) -> str:
        """The recipe's name, or `recipe <id>` when the answer did not name it, or its
        position when the answer gave no id either."""
        if self.name:
            return self.name
        if self.id is not None:
            return f"recipe {self.id}"
        return f"recipe #{self.position or '?'} (no id)"


@dataclass(frozen=True)
class StepOutcome:
    """One step of an apply: a manifest change, an export or an import.

    `message` is the error of a failed step or the reason a step was skipped.
    """

    address: str
    kind: StepKind
    action: str
    status: StepStatus
    manifest: str
    target: str | None = None
    wave: str | None = None
    message: str | None = None
    package_id: int | None = None
    import_id: int | None = None
    manifest_id: int | None = None
    recipes: list[RecipeOutcome] = field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None

    @classmethod
    def of(cls, change: PlannedStep, status: StepStatus, **extra: Any) -> StepOutcome:
        """The outcome of a planned change, named as the plan names it."""
        return cls(
            address=change.address,
            kind=change.kind,
            action=change.action,
            status=status,
            manifest=change.manifest,
            target=change.target,
            wave=change.wave,
            **extra,
        )

    @property
    def effective_status(self) -> StepStatus:
        """The status, except that a failing recipe makes a step failed."""
        if self.status == "succeeded" and self.failed_recipes():
            return "failed"
        return self.status

    @property
    def failed(self) -> bool:
        return self.effective_status == "failed"

    @property
    def label(self) -> str:
        """How a target's step reads in a report: its manifest, or `recipes (start)`."""
        return f"recipes ({self.action})" if self.kind == "recipes" else self.manifest

    def failed_recipes(self) -> list[RecipeOutcome]:
        return [recipe for recipe in self.recipes if not recipe.succeeded]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            name: getattr(self, name) for name in _STEP_SCALARS if name != "status"
        }
        data["status"] = self.effective_status
        data["recipes"] = [_recipe_dict(r) for r in self.recipes]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepOutcome:
        values = {name: data.get(name) for name in _STEP_SCALARS}
        for name in ("address", "kind", "action", "status", "manifest"):
            if not isinstance(values[name], str):
                raise RlcmError(f"report: step is missing the text field {name!r}")
        if values["kind"] not in STEP_KINDS or values["status"] not in STEP_STATUSES:
            raise RlcmError(f"report: step {values['address']} has an unknown kind or status")
        recipes = [
            RecipeOutcome(
                id=None if r.get("id") is None else int(r["id"]),
                name=r.get("name"),
                import_result=r["import_result"],
                position=r.get("position"),
                running=r.get("running"),
                stop_cause=r.get("stop_cause"),
                job_succeeded_count=r.get("job_succeeded_count"),
                job_failed_count=r.get("job_failed_count"),
            )
            for r in data.get("recipes") or []
        ]
        return cls(recipes=recipes, **values)  # type: ignore[arg-type]  # checked above


def _recipe_dict(recipe: RecipeOutcome) -> dict[str, Any]:
    """A recipe of a step in the JSON report; its health only where it was read."""
    out: dict[str, Any] = {
        "id": recipe.id,
        "position": recipe.position,
        "name": recipe.name,
        "import_result": recipe.import_result,
        "succeeded": recipe.succeeded,
    }
    if recipe.running is not None:
        out["running"] = recipe.running
        out["stop_cause"] = recipe.stop_cause
        out["job_succeeded_count"] = recipe.job_succeeded_count
        out["job_failed_count"] = recipe.job_failed_count
    return out


_STEP_SCALARS = (
    "address",
    "kind",
    "action",
    "status",
    "manifest",
    "target",
    "wave",
    "message",
    "package_id",
    "import_id",
    "manifest_id",
    "started_at",
    "finished_at",
    "duration_s",
)


@dataclass(frozen=True)
class Counts:
    """How many steps ended in each status."""

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.skipped + self.interrupted

    @classmethod
    def of(cls, steps: Iterable[StepOutcome]) -> Counts:
        seen = Counter(step.effective_status for step in steps)
        return cls(seen["succeeded"], seen["failed"], seen["skipped"], seen["interrupted"])

    def to_dict(self) -> dict[str, int]:
        return {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "interrupted": self.interrupted,
            "total": self.total,
        }


@dataclass(frozen=True)
class ApplyReport:
    """Everything one `rlcm apply` did, steps in a stable order.

    Steps are kept sorted: manifests, then exports, then imports by wave (in rollout
    order), target and start time (skipped steps last), so output does not depend on
    which concurrent job finished first.
    """

    steps: list[StepOutcome]
    started_at: str
    finished_at: str
    waves: list[str] = field(default_factory=list)
    halted_after_wave: str | None = None
    halt_reason: str | None = None
    halted_by: str | None = None  # the gate that halted: wave | brake
    interrupted: bool = False
    # `--max-duration` stopped new steps (why, as a sentence); None when it did not
    deadline: str | None = None

    def __post_init__(self) -> None:
        # Sorting once here keeps every renderer and the JSON in the same order.
        object.__setattr__(self, "steps", sorted(self.steps, key=self._step_key))

    def _step_key(self, step: StepOutcome) -> tuple[int, int, str, bool, str, str]:
        return (
            _KIND_RANK[step.kind],
            self.wave_index(step.wave),
            step.target or "",
            step.started_at is None,
            step.started_at or "",
            step.address,
        )

    def wave_index(self, wave: str | None) -> int:
        """Rollout position of a wave; -1 for no wave, after the known ones if unknown."""
        if wave is None:
            return -1
        return self.waves.index(wave) if wave in self.waves else len(self.waves)

    @property
    def exit_code(self) -> int:
        """0 when every step succeeded; 3 when a step failed, was skipped or interrupted;
        4 when `--max-duration` stopped new steps and nothing failed (run again to go on)."""
        if self.interrupted or self.halted_after_wave is not None:
            return 3
        if self.deadline is not None:
            failed = any(step.effective_status == "failed" for step in self.steps)
            return 3 if failed else EXIT_DEADLINE
        ok = all(step.effective_status == "succeeded" for step in self.steps)
        return 0 if ok else 3

    def of_kind(self, kind: StepKind) -> list[StepOutcome]:
        return [step for step in self.steps if step.kind == kind]

    def counts(self, kind: StepKind | None = None, wave: str | None = None) -> Counts:
        """Counts of steps, optionally of one kind and/or one wave."""
        return Counts.of(
            step
            for step in self.steps
            if (kind is None or step.kind == kind) and (wave is None or step.wave == wave)
        )

    def counts_by_kind(self) -> dict[StepKind, Counts]:
        return {kind: self.counts(kind) for kind in STEP_KINDS}

    def counts_by_wave(self) -> dict[str, Counts]:
        """Import counts per wave, in rollout order (waves without imports included)."""
        return {wave: self.counts("import", wave) for wave in self.all_waves()}

    def all_waves(self) -> list[str]:
        """The rollout's waves, then any wave a step names that the rollout did not list."""
        extra = sorted({s.wave for s in self.steps if s.wave and s.wave not in self.waves})
        return [*self.waves, *extra]

    def failed_imports(self) -> list[StepOutcome]:
        """Failed steps of targets: imports, and recipe starts or stops."""
        return [step for step in self.steps if step.kind in _TARGET_KINDS and step.failed]

    def failed_source_steps(self) -> list[StepOutcome]:
        """Failed manifest and export steps (they skip the imports that need them)."""
        return [step for step in self.steps if step.kind not in _TARGET_KINDS and step.failed]

    def by_target(self, wave: str | None = None) -> dict[str, list[StepOutcome]]:
        """Import (and recipe start or stop) steps grouped by target, in wave then target
        order."""
        groups: dict[str, list[StepOutcome]] = {}
        for step in (s for s in self.steps if s.kind in _TARGET_KINDS):
            if step.target is not None and (wave is None or step.wave == wave):
                groups.setdefault(step.target, []).append(step)
        return groups

    def targets(self) -> list[str]:
        return list(self.by_target())

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (`format_version` 1). Derived fields are for readers only."""
        return {
            "format_version": FORMAT_VERSION,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "waves": list(self.waves),
            "halted_after_wave": self.halted_after_wave,
            "halt_reason": self.halt_reason,
            "halted_by": self.halted_by,
            "interrupted": self.interrupted,
            "deadline": self.deadline,
            "exit_code": self.exit_code,
            "summary": {
                "by_kind": {k: c.to_dict() for k, c in self.counts_by_kind().items()},
                "imports_by_wave": {w: c.to_dict() for w, c in self.counts_by_wave().items()},
                "targets": len(self.targets()),
            },
            "steps": [step.to_dict() for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApplyReport:
        """Read a JSON report back; derived fields (`exit_code`, `summary`) are recomputed."""
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise RlcmError(
                f"report: format_version {version!r} is not supported (expected {FORMAT_VERSION})"
            )
        try:
            return cls(
                steps=[StepOutcome.from_dict(s) for s in data["steps"]],
                started_at=str(data["started_at"]),
                finished_at=str(data["finished_at"]),
                waves=[str(w) for w in data.get("waves") or []],
                halted_after_wave=cast("str | None", data.get("halted_after_wave")),
                halt_reason=cast("str | None", data.get("halt_reason")),
                halted_by=cast("str | None", data.get("halted_by")),
                interrupted=bool(data.get("interrupted", False)),
                deadline=cast("str | None", data.get("deadline")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RlcmError(f"report: malformed report ({type(exc).__name__}: {exc})") from exc

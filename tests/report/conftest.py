"""A realistic apply report of the demo world, shared by the report tests."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.report import ApplyReport, RecipeOutcome, StepOutcome

MANIFESTS = ("shared-connections", "crm-sync", "billing-alerts")
RECIPES = {
    "shared-connections": [],
    "crm-sync": [(5101, "Sync accounts"), (5102, "Sync contacts")],
    "billing-alerts": [(5201, "Invoice overdue alert"), (5202, "Payment failed alert")],
}
FLEET = [
    *("E-globex/2211", "91928/77", "E-initech/2301", "E-umbrella/2401", "E-hooli/2501"),
    *("E-vandelay/2601", "E-wonka/2701", "E-stark/2801", "E-wayne/2901", "E-tyrell/3001"),
    *("E-cyberdyne/3101", "E-soylent/3201"),
]
UMBRELLA = "E-umbrella/2401"


def _stamp(second: int) -> str:
    return f"2026-11-23T10:{second // 60:02d}:{second % 60:02d}Z"


def _import(target: str, wave: str, manifest: str, clock: int) -> StepOutcome:
    recipes = [
        RecipeOutcome(rid, name, "restarted" if n == 0 else "no_update_or_update_without_restart")
        for n, (rid, name) in enumerate(RECIPES[manifest])
    ]
    return StepOutcome(
        address=f"import.{manifest}@{target}",
        kind="import",
        action="import",
        status="succeeded",
        manifest=manifest,
        target=target,
        wave=wave,
        package_id=7000 + MANIFESTS.index(manifest),
        import_id=8000 + clock,
        recipes=recipes,
        started_at=_stamp(clock),
        finished_at=_stamp(clock + 3),
        duration_s=3.0,
    )


def source_steps() -> list[StepOutcome]:
    steps = []
    for n, name in enumerate(MANIFESTS):
        steps.append(
            StepOutcome(
                f"manifest.{name}",
                "manifest",
                "create",
                "succeeded",
                name,
                manifest_id=6000 + n,
                started_at=_stamp(n),
                finished_at=_stamp(n + 1),
                duration_s=1.0,
            )
        )
        steps.append(
            StepOutcome(
                f"export.{name}",
                "export",
                "export",
                "succeeded",
                name,
                manifest_id=6000 + n,
                package_id=7000 + n,
                started_at=_stamp(n + 1),
                finished_at=_stamp(n + 5),
                duration_s=4.0,
            )
        )
    return steps


def umbrella_steps(clock: int) -> list[StepOutcome]:
    ok = _import(UMBRELLA, "main", "shared-connections", clock)
    failed = StepOutcome(
        address=f"import.crm-sync@{UMBRELLA}",
        kind="import",
        action="import",
        status="failed",
        manifest="crm-sync",
        target=UMBRELLA,
        wave="main",
        message="Import failed: running recipes would change and restart_recipes is false",
        package_id=7001,
        import_id=8999,
        recipes=[RecipeOutcome(5101, "Sync accounts", "stopped")],
        started_at=_stamp(clock + 3),
        finished_at=_stamp(clock + 9),
        duration_s=6.0,
    )
    skipped = StepOutcome(
        address=f"import.billing-alerts@{UMBRELLA}",
        kind="import",
        action="import",
        status="skipped",
        manifest="billing-alerts",
        target=UMBRELLA,
        wave="main",
        message=f"depends on import.crm-sync@{UMBRELLA}, which failed",
    )
    return [ok, failed, skipped]


def demo_steps() -> list[StepOutcome]:
    steps = source_steps()
    clock = 10
    for target, wave in [("acme", "canary")] + [(t, "main") for t in FLEET]:
        if target == UMBRELLA:
            steps += umbrella_steps(clock)
            continue
        for manifest in MANIFESTS:
            steps.append(_import(target, wave, manifest, clock))
            clock += 1
    return steps


@pytest.fixture
def demo_report() -> ApplyReport:
    # Reversed, as concurrent jobs might finish: the report must order them itself.
    return ApplyReport(
        steps=list(reversed(demo_steps())),
        started_at="2026-11-23T10:00:00Z",
        finished_at="2026-11-23T10:05:00Z",
        waves=["canary", "main"],
    )


@pytest.fixture
def halted_at_the_deadline(demo_report: ApplyReport) -> ApplyReport:
    """The demo apply halted by the canary's gate and stopped at --max-duration as well."""
    return dataclasses.replace(
        demo_report,
        halted_after_wave="canary",
        halt_reason="the gate of wave canary stopped wave main",
        halted_by="wave",
        deadline="stopped at the --max-duration deadline (1h): 2 step(s) not started; run again",
    )

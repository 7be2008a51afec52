"""The planner on a fleet: 10,000 targets of three manifests (time it with -s if curious)."""

from __future__ import annotations

import time
from dataclasses import replace

from planner_world import applied, make_desired, make_live, make_state

from reconciler.plan.planner import build_plan


def test_a_plan_for_10000_targets_of_three_manifests() -> None:
    desired = make_desired(extra_customers=10_000 - 13)
    state, live = make_state(), make_live(target_folders={})
    started = time.process_time()
    first = build_plan(desired, state, live)
    first_cpu = time.process_time() - started
    assert first.summary.imports == 30_000 and first.summary.targets == 10_000

    state, live = applied(first, state, live)
    newer = replace(live, source_folders=make_live(versions={"sync_contacts": 3}).source_folders)
    started = time.process_time()
    second = build_plan(desired, state, newer)
    second_cpu = time.process_time() - started
    assert second.summary.line() == (
        "Plan: 1 export, 10000 imports across 10000 targets (wave canary: 1, wave main: 9999)."
    )
    print(f"\nplanner CPU: first {first_cpu:.2f}s, refreshed fleet {second_cpu:.2f}s")

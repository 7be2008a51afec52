"""Start-up time of `rlcm --help` and `rlcm validate`, and the planner alone at 10,000 targets."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.world import env

ROOT = Path(__file__).resolve().parent.parent


def startup(repeats: int = 7) -> dict[str, Any]:
    rlcm = str(Path(sys.executable).with_name("rlcm"))
    commands = {
        "rlcm --help": [rlcm, "--help"],
        "rlcm validate -c examples/manifests": [rlcm, "validate", "-c", "examples/manifests"],
    }
    out: dict[str, Any] = {}
    for name, argv in commands.items():
        subprocess.run(argv, cwd=ROOT, env=env(), capture_output=True, check=True)  # warm
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, env=env(), capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        out[name] = {"median_s": round(statistics.median(times), 4), "runs": repeats}
    return out


def planner(targets: int = 10_000) -> dict[str, Any]:
    """build_plan on `targets` x 3 manifests: a first plan, and a refreshed fleet in sync
    but for one newer recipe (every target's folder compared). Factories: tests/planner."""
    sys.path.insert(0, str(ROOT / "tests" / "planner"))
    from dataclasses import replace

    from planner_world import applied, make_desired, make_live, make_state

    from reconciler.plan.planner import build_plan

    desired = make_desired(extra_customers=targets - 13)
    state, live = make_state(), make_live(target_folders={})
    started = time.process_time()
    first = build_plan(desired, state, live)
    first_cpu = time.process_time() - started
    state, live = applied(first, state, live)
    newer = replace(live, source_folders=make_live(versions={"sync_contacts": 3}).source_folders)
    started = time.process_time()
    second = build_plan(desired, state, newer)
    second_cpu = time.process_time() - started
    return {
        "targets": targets,
        "manifests": 3,
        "first_plan_cpu_s": round(first_cpu, 3),
        "first_plan_imports": first.summary.imports,
        "refreshed_plan_cpu_s": round(second_cpu, 3),
        "refreshed_plan_imports": second.summary.imports,
    }

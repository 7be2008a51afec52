"""One fleet size: plan, apply, plan again with rlcm; then the sequential baseline."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from benchmarks.bound import Bound, apply_bound, drift_bound, plan_bound
from benchmarks.measure import Run, run
from benchmarks.world import World, seed, served, write_config


def rlcm(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("rlcm")), *args]


def _expect(step: Run, codes: tuple[int, ...]) -> Run:
    if step.exit_code not in codes:
        tail = "\n".join(step.output.splitlines()[-15:])
        raise RuntimeError(f"{step.command} exited {step.exit_code}:\n{tail}")
    return step


def rlcm_case(targets: int, world: World, work: Path) -> dict[str, Any]:
    """Plan (fresh), apply, plan with target refresh, plan without, drift: timings and
    calls. Each run has a simulator process of its own (fresh quota counters: every
    command starts afresh) at the time factor its lower bound allows (`World.for_bound`)."""
    root = _fresh(work / f"rlcm-{targets}")
    sim = seed(root / "sim", targets, world)
    plan_file = root / "plan.json"  # its estimate of the apply (plan/estimate.py)
    report = root / "report.json"
    views = world.manifests
    commands: dict[str, tuple[list[str], tuple[int, ...], Bound]] = {
        "plan_fresh": (
            ["plan", "--detailed-exitcode", "--out", str(plan_file)],
            (2,),
            plan_bound(targets, world, views=0, refresh_targets=False),
        ),
        "apply": (
            ["apply", "--auto-approve", "--report", str(report)],
            (0,),
            apply_bound(targets, world),
        ),
        "plan_refresh": (
            ["plan", "--detailed-exitcode"],
            (0,),
            plan_bound(targets, world, views=views, refresh_targets=True),
        ),
        "plan_no_refresh": (
            ["plan", "--detailed-exitcode", "--no-refresh-targets"],
            (0,),
            plan_bound(targets, world, views=views, refresh_targets=False),
        ),
        "drift": (["drift"], (0,), drift_bound(targets, world, views=views)),
    }
    out: dict[str, Any] = {"targets": targets, "runs": {}}
    for name, (args, codes, bound) in commands.items():
        at = world.for_bound(bound.seconds)
        with served(root / "sim", at) as url:
            cfg = str(write_config(root / "config", url, targets, at))
            step = _expect(run(rlcm(args[0], "-c", cfg, *args[1:]), root, sim), codes)
        out["runs"][name] = {
            **step.as_dict(),
            "time_scale": at.time_scale,
            "real_equivalent_s": round(step.wall_s * at.time_scale, 1),
            "calls_per_target": round(step.total_calls / targets, 2),
            "lower_bound": bound.as_dict(at),
            "ratio_to_bound": round(step.wall_s / at.real(bound.seconds), 3),
        }
    estimate = json.loads(plan_file.read_text())["estimate"]
    planned, applied = out["runs"]["plan_fresh"], out["runs"]["apply"]
    # the config's rate limits and poll are time-scaled: the estimate is in the plan's
    # scaled seconds
    real_estimate = float(estimate["seconds"]) * planned["time_scale"]
    applied["estimate"] = {
        "text": estimate["text"],
        "scaled_s": estimate["seconds"],
        "real_equivalent_s": round(real_estimate, 1),
    }
    applied["estimate_ratio"] = round(
        real_estimate / (applied["wall_s"] * applied["time_scale"]), 3
    )
    imported = json.loads(report.read_text())
    out["apply_counts"] = imported.get("counts") or imported.get("summary")
    shutil.rmtree(root / "sim" / "packages", ignore_errors=True)
    return out


def baseline_case(targets: int, world: World, work: Path) -> dict[str, Any]:
    root = _fresh(work / f"baseline-{targets}")
    sim = seed(root / "sim", targets, world)
    with served(root / "sim", world) as url:
        cfg = str(write_config(root / "config", url, targets, world))
        argv = [sys.executable, "-m", "benchmarks.baseline", cfg]
        step = _expect(run(argv, Path.cwd(), sim, out_dir=root), (0,))
    said = json.loads(step.output.strip().splitlines()[-1])
    if said["failed"]:
        raise RuntimeError(f"baseline: {said['failed']} imports failed")
    return {
        **step.as_dict(),
        "targets": targets,
        "real_equivalent_s": round(step.wall_s * world.time_scale, 1),
        "calls_per_target": round(step.total_calls / targets, 2),
        "extrapolated": False,
    }


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path

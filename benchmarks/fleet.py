"""One fleet size: plan, apply, plan again with rlcm; then the sequential baseline."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from benchmarks.bound import apply_bound, drift_bound, plan_bound
from benchmarks.measure import Run, run
from benchmarks.world import World, fresh_quota, seed, served, write_config


def rlcm(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("rlcm")), *args]


def _expect(step: Run, codes: tuple[int, ...]) -> Run:
    if step.exit_code not in codes:
        tail = "\n".join(step.output.splitlines()[-15:])
        raise RuntimeError(f"{step.command} exited {step.exit_code}:\n{tail}")
    return step


def rlcm_case(targets: int, world: World, work: Path) -> dict[str, Any]:
    """Plan (fresh), apply, plan with target refresh, plan without, drift: timings and
    calls."""
    root = _fresh(work / f"rlcm-{targets}")
    sim = seed(root / "sim", targets, world)
    with served(root / "sim", world) as url:
        cfg = str(write_config(root / "config", url, targets, world))
        plan_file = root / "plan.json"  # its estimate of the apply (plan/estimate.py)
        fresh = rlcm("plan", "-c", cfg, "--detailed-exitcode", "--out", str(plan_file))
        runs = {"plan_fresh": _expect(run(fresh, root, sim), (2,))}
        fresh_quota(world)
        report = str(root / "report.json")
        apply_argv = rlcm("apply", "-c", cfg, "--auto-approve", "--report", report)
        runs["apply"] = _expect(run(apply_argv, root, sim), (0,))
        fresh_quota(world)
        again = rlcm("plan", "-c", cfg, "--detailed-exitcode")
        runs["plan_refresh"] = _expect(run(again, root, sim), (0,))
        fresh_quota(world)
        quick = rlcm("plan", "-c", cfg, "--detailed-exitcode", "--no-refresh-targets")
        runs["plan_no_refresh"] = _expect(run(quick, root, sim), (0,))
        fresh_quota(world)
        runs["drift"] = _expect(run(rlcm("drift", "-c", cfg), root, sim), (0,))
    bounds = {
        "plan_fresh": plan_bound(targets, world, views=0, refresh_targets=False),
        "apply": apply_bound(targets, world),
        "plan_refresh": plan_bound(targets, world, views=world.manifests, refresh_targets=True),
        "plan_no_refresh": plan_bound(targets, world, views=world.manifests, refresh_targets=False),
        "drift": drift_bound(targets, world, views=world.manifests),
    }
    imported = json.loads(Path(report).read_text())
    out: dict[str, Any] = {"targets": targets, "runs": {}}
    for name, step in runs.items():
        out["runs"][name] = {
            **step.as_dict(),
            "real_equivalent_s": round(step.wall_s * world.time_scale, 1),
            "calls_per_target": round(step.total_calls / targets, 2),
            "lower_bound": bounds[name].as_dict(world),
            "ratio_to_bound": round(step.wall_s / world.real(bounds[name].seconds), 3),
        }
    estimate = json.loads(plan_file.read_text())["estimate"]
    applied = out["runs"]["apply"]
    # the config's rate limits and poll are time-scaled: the estimate is in wall seconds
    applied["estimate"] = {"text": estimate["text"], "scaled_s": estimate["seconds"]}
    applied["estimate_ratio"] = round(float(estimate["seconds"]) / applied["wall_s"], 3)
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

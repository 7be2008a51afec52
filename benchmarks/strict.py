"""Stricter-server cases: the simulator allows less than rlcm's config believes.

Each case serves the simulator (its own process, time-scaled) with a quota stricter than
Workato's published one, and runs `rlcm plan --out` then `rlcm apply` with the config's
default belief (1,000 imports a minute, 60 other calls a minute), twice: the first half of
the fleet (rlcm meets the stricter server for the first time), then the second half. For
each it reports the 429s the server gave (of the throttled bucket's calls), failed
imports, the apply's wall time against the lower bound at the server's *real* quota
(benchmarks/bound.py), and the plan's estimate (plan/estimate.py) against the measured
apply time: from the config's belief the first time, from the rate the first apply
learned (state's `quotas`) the second.

    python -m benchmarks --strict [--strict-targets 100] [--time-scale 2] [--out DIR]
                         [--strict-cases other_half_no_retry_after,...]

The time scale is low (2 by default with --strict) so that the server's quota, not the
shared machine's throughput, decides the run: at 20, a loaded 2-core machine cannot send
30 calls in the 3 s a simulated minute lasts, and the quota never binds.

Cases (`CASES`):
- `other_half_no_retry_after`: "other" calls at 30/minute, 429 without Retry-After, on a
  catalogue of 10 products x 2 manifests (each in its own source folder; each target
  imports its product's two), so that the apply's 80 "other" calls need three windows;
- `imports_tenth_retry_after`: imports at 100/minute, 429 with Retry-After;
- `imports_hourly_fixed`: imports at 100 per clock hour ("denied until the following
  hour"), with Retry-After, time-scaled so that an hour lasts seconds; the apply starts at
  the top of a (scaled) hour so its bound is whole windows.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.bound import apply_bound
from benchmarks.fleet import _expect, rlcm
from benchmarks.measure import run
from benchmarks.world import World, fresh_quota, seed, served, write_config

__all__ = ["CASES", "StrictCase", "run_strict", "strict_case"]

BUCKET_KINDS = {
    "other": {
        "folder_assets", "manifest_create", "manifest_view", "manifest_update",
        "manifest_delete", "export", "export_status", "download",
    },
    "imports": {"import"},
}  # fmt: skip


@dataclass(frozen=True)
class StrictCase:
    name: str
    bucket: str  # the throttled bucket: "other" or "imports"
    server: dict[str, Any]  # Simulator.set_rate_limits arguments
    real: World  # the world at the server's real quota (for the lower bound)
    targets: int | None = None  # None: the --strict-targets size


def _cases(world: World) -> list[StrictCase]:
    # an hour lasts 30 s: the imports of one window take the machine some seconds
    hourly = replace(world, time_scale=120.0)
    # a catalogue of 10 products x 2 manifests, each in its own folder: a first apply makes
    # 80 "other" calls (20 folder reads, then per manifest a create, an export and its
    # status poll), three windows at 30/minute; the second one's refresh reads 20 folders
    # and 20 manifests, two windows. Each target imports only its product's two manifests,
    # so the "other" quota binds, not the jobs
    catalogue = replace(world, products=10, manifests=2, source_folders=20)
    return [
        StrictCase(
            "other_half_no_retry_after",
            "other",
            {"other": world.quota_other // 2, "retry_after": False},
            replace(catalogue, quota_other=world.quota_other // 2),
        ),
        StrictCase(
            "imports_tenth_retry_after",
            "imports",
            {"imports": world.quota_imports // 10},
            replace(world, quota_imports=world.quota_imports // 10),
        ),
        StrictCase(
            "imports_hourly_fixed",
            "imports",
            {"imports": 100, "per": {"imports": "hour"}, "fixed": ["imports"]},
            replace(hourly, quota_imports=100, imports_window=3600.0),
            targets=100,
        ),
    ]


CASES = tuple(c.name for c in _cases(World()))


def strict_case(case: StrictCase, targets: int, work: Path) -> dict[str, Any]:
    """Two applies against the stricter server: the first half of the fleet (rlcm meets
    the stricter quota for the first time: 429s, failures, time against the bound), then
    the second half (the plan's estimate now counts with what the first one learned)."""
    world = case.real
    root = work / f"strict-{case.name}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    sim = seed(root / "sim", targets, world)
    published = World()  # Workato's quotas, for every bucket the case does not throttle
    base = {
        "imports": published.quota_imports,
        "import_status": published.quota_import_status,
        "other": published.quota_other,
    }
    sim.set_rate_limits(True, **{**base, **case.server})
    half = targets // 2
    phases = {}
    with served(root / "sim", world) as url:
        for phase, size in (("first", half), ("second", targets)):
            cfg = str(write_config(root / "config", url, size, world, sim))
            phases[phase] = _apply(case, world, root, cfg, sim, phase)
            phases[phase]["targets"] = size - (0 if phase == "first" else half)
    shutil.rmtree(root / "sim" / "packages", ignore_errors=True)
    first, second = phases["first"], phases["second"]
    return {
        "case": case.name,
        "server": case.server,
        "time_scale": world.time_scale,
        "bucket": case.bucket,
        **first,
        "second": second,
    }


def _apply(
    case: StrictCase, world: World, root: Path, cfg: str, sim: Any, phase: str
) -> dict[str, Any]:
    plan_file = root / f"plan-{phase}.json"
    _expect(run(rlcm("plan", "-c", cfg, "--out", str(plan_file)), root, sim), (0,))
    estimate = json.loads(plan_file.read_text())["estimate"]
    fresh_quota(world)
    if world.imports_window > world.window:
        _top_of_window(world.real(world.imports_window))
    report = root / f"report-{phase}.json"
    argv = rlcm("apply", "-c", cfg, "--auto-approve", "--report", str(report))
    applied = _expect(run(argv, root, sim), (0, 3))
    steps = json.loads(report.read_text())["steps"]
    imports = [s for s in steps if s["kind"] == "import"]
    bucket_calls = sum(applied.calls.get(k, 0) for k in BUCKET_KINDS[case.bucket])
    targets = len({s["target"] for s in imports})
    # the second apply's own plan reads the folders of the targets the first one imported
    first = phase == "first"
    bound = apply_bound(targets, world, refreshed=0 if first else targets, first=first)
    bound_s = world.real(bound.seconds)
    return {
        "exit_code": applied.exit_code,
        "imports": len(imports),
        "failed_imports": sum(1 for s in imports if s["status"] != "succeeded"),
        "http_429": applied.throttled,
        "bucket_calls": bucket_calls,
        "share_429": round(applied.throttled / max(1, bucket_calls), 4),
        "wall_s": round(applied.wall_s, 2),
        "real_equivalent_s": round(applied.wall_s * world.time_scale, 1),
        "lower_bound": bound.as_dict(world),
        "ratio_to_bound": round(applied.wall_s / bound_s, 3) if bound_s else None,
        "estimate": estimate,
        "estimate_ratio": round(float(estimate["seconds"]) / applied.wall_s, 3),
        "cpu_s": round(applied.cpu_s, 1),
    }


def _top_of_window(window: float) -> None:
    """Sleep until the next multiple of `window` on the wall clock (a fixed window's
    start), so the first window is whole."""
    time.sleep(window - math.fmod(time.time(), window) + 0.05)


def run_strict(world: World, targets: int, work: Path, only: Sequence[str] = ()) -> dict[str, Any]:
    """Every case, or the ones named in `only` (`--strict-cases`)."""
    unknown = sorted(set(only) - set(CASES))
    if unknown:
        raise ValueError(f"unknown strict case {', '.join(unknown)}; one of {', '.join(CASES)}")
    results = []
    for case in [c for c in _cases(world) if not only or c.name in only]:
        n = case.targets or targets
        print(f"stricter server: {case.name}, {n} targets", flush=True)
        results.append(strict_case(case, n, work))
    return {"world": world.as_dict(), "cases": results, "checks": strict_checks(results)}


def strict_checks(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in cases:
        name = c["case"]
        out += [
            {"target": f"{name}: apply exits 0", "ok": c["exit_code"] == 0,
             "measured": str(c["exit_code"])},
            {"target": f"{name}: every import succeeds", "ok": c["failed_imports"] == 0,
             "measured": f"{c['failed_imports']} failed of {c['imports']}"},
            {"target": f"{name}: <= 10% of {c['bucket']} calls draw a 429",
             "ok": c["share_429"] <= 0.10,
             "measured": f"{c['http_429']} of {c['bucket_calls']} ({c['share_429']:.1%})"},
            {"target": f"{name}: wall within 1.3x of the bound at the server's quota",
             "ok": c["ratio_to_bound"] is not None and c["ratio_to_bound"] <= 1.3,
             "measured": f"{c['ratio_to_bound']}x"},
            {"target": f"{name}: plan's estimate within 25% of the apply (after learning)",
             "ok": abs(c["second"]["estimate_ratio"] - 1) <= 0.25,
             "measured": f"estimate/measured {c['second']['estimate_ratio']} "
             f"(first apply, from the config's belief: {c['estimate_ratio']})"},
        ]  # fmt: skip
    return out


def table(results: dict[str, Any]) -> str:
    rows = [
        "| case | apply | targets | 429s (share of bucket) | failed imports | wall (scaled) "
        "| real-time equiv. | bound at server quota | ratio | plan estimate | est./measured |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for case in results["cases"]:
        for label, c in (("first", case), ("second", case["second"])):
            rows.append(
                f"| {case['case']} | {label} | {c['targets']} | {c['http_429']} of "
                f"{c['bucket_calls']} {case['bucket']} ({c['share_429']:.1%}) "
                f"| {c['failed_imports']} | {c['wall_s']:.1f} s | {c['real_equivalent_s']:.0f} s "
                f"| {c['lower_bound']['real_equivalent_s']:.0f} s | {c['ratio_to_bound']} "
                f"| {c['estimate']['text']} | {c['estimate_ratio']} |"
            )
    return "\n".join(rows)

"""`make bench`: the fleet benchmark. Prints a table, writes results/latest.json and a plot.

python -m benchmarks [--time-scale F] [--min-bound S] [--sizes 10,100,1000]
                    [--baseline-sizes 10,100] [--max-parallel-cases 100]
python -m benchmarks --strict [--strict-targets 100]   # only the stricter-server cases,
                                                        # results/strict.json (strict.py)
python -m benchmarks --strict --strict-cases other_half_no_retry_after   # just these

Each rlcm run is played at the largest time factor <= F that leaves its lower bound at
least S real seconds (default 120; 0: every run at F; benchmarks/world.py says why); the
sequential baselines run at F.

The largest size is also applied at each `--max-parallel-cases` value (the world's own
max_parallel is 32): with no per-target call in the 60/minute bucket, the bound is then
the imports quota itself.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.fleet import baseline_case, rlcm_case
from benchmarks.startup import planner, startup
from benchmarks.world import World

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    world = World(time_scale=args.time_scale, min_scaled_bound=args.min_bound)
    if args.strict:
        scale = args.time_scale if "--time-scale" in (argv or sys.argv) else 2.0
        return _strict(World(time_scale=scale), args)
    sizes = [int(s) for s in args.sizes.split(",")]
    baseline_sizes = [int(s) for s in args.baseline_sizes.split(",") if s]
    started = time.perf_counter()
    parallel = [int(s) for s in args.max_parallel_cases.split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="rlcm-bench-"))
    results = run_all(world, sizes, baseline_sizes, work, parallel)
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.no_plot:
        report.plot(results, out / "fleet.png")
    print(report.table(results))
    print()
    print(report.extras(results))
    print()
    print(report.checks_text(results))
    print(f"\nwrote {out / 'latest.json'} in {results['bench_wall_s']:.0f} s")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--time-scale", type=float, default=World.time_scale)
    parser.add_argument(
        "--min-bound",
        type=float,
        default=World.min_scaled_bound,
        metavar="S",
        help="play each rlcm run at the largest time factor <= F that leaves its lower bound "
        "S real seconds or more (0: every run at F)",
    )
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--baseline-sizes", default="10,100")
    parser.add_argument("--max-parallel-cases", default="100")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--strict", action="store_true", help="only the stricter-server cases (strict.py)"
    )
    parser.add_argument("--strict-targets", type=int, default=100)
    parser.add_argument(
        "--strict-cases",
        default="",
        metavar="NAMES",
        help="with --strict: only these cases (comma-separated; default every one)",
    )
    return parser


def _strict(world: World, args: argparse.Namespace) -> int:
    from benchmarks import strict

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="rlcm-bench-strict-"))
    only = [name for name in args.strict_cases.split(",") if name]
    results = strict.run_strict(world, args.strict_targets, work, only)
    results["machine"] = {"python": platform.python_version(), "cpus": _cpus()}
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "strict.json").write_text(json.dumps(results, indent=2) + "\n")
    print(strict.table(results))
    print()
    print(
        "\n".join(
            f"- [{'x' if c['ok'] else ' '}] {c['target']}: {c['measured']}"
            for c in results["checks"]
        )
    )
    print(f"\nwrote {out / 'strict.json'} in {results['bench_wall_s']:.0f} s")
    return 0


def run_all(
    world: World,
    sizes: list[int],
    baseline_sizes: list[int],
    work: Path,
    max_parallel_cases: Sequence[int] = (),
) -> dict[str, Any]:
    cases = []
    for n in sizes:
        steps = "plan, apply, plan, plan --no-refresh-targets, drift"
        print(f"fleet of {n}: rlcm {steps}", flush=True)
        case = rlcm_case(n, world, work)
        if n in baseline_sizes:
            print(f"fleet of {n}: sequential baseline", flush=True)
            case["baseline"] = baseline_case(n, world, work)
        cases.append(case)
    _extrapolate_baseline(cases)
    extra = []
    for parallel in max_parallel_cases:
        n = max(sizes)
        print(f"fleet of {n} at max_parallel {parallel}", flush=True)
        case = rlcm_case(n, replace(world, max_parallel=parallel), work)
        case["label"] = f" (max_parallel {parallel})"
        extra.append(case)
    print("start-up and planner", flush=True)
    results: dict[str, Any] = {
        "world": world.as_dict(),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "cases": cases,
        "max_parallel_cases": extra,
        "startup": startup(),
        "planner": planner(),
    }
    results["checks"] = checks(results)
    return results


def _extrapolate_baseline(cases: list[dict[str, Any]]) -> None:
    """Sizes without a baseline run: linear in targets from the largest measured one."""
    measured = [c for c in cases if c.get("baseline")]
    if not measured:
        return
    ref = max(measured, key=lambda c: c["targets"])["baseline"]
    per_target = ref["wall_s"] / ref["targets"]
    for case in cases:
        if not case.get("baseline"):
            n = case["targets"]
            case["baseline"] = {"targets": n, "wall_s": per_target * n, "extrapolated": True}


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    world = results["world"]
    m = world["manifests"]
    by_size = {c["targets"]: c for c in results["cases"]}
    out: list[dict[str, Any]] = []

    def check(target: str, ok: bool, measured: str) -> None:
        out.append({"target": target, "ok": bool(ok), "measured": measured})

    biggest = by_size[max(by_size)]
    apply = biggest["runs"]["apply"]
    for case in [biggest, *results.get("max_parallel_cases", [])]:
        ratio = case["runs"]["apply"]["ratio_to_bound"]
        check(
            f"apply at {case['targets']} targets{case.get('label', '')} within 1.15x of the "
            "lower bound",
            ratio <= 1.15,
            f"{ratio:.3f}x",
        )
    for case in [biggest, *results.get("max_parallel_cases", [])]:
        ratio = case["runs"]["apply"].get("estimate_ratio")
        check(
            f"plan's estimate within 25% of the apply at {case['targets']} targets"
            f"{case.get('label', '')}",
            ratio is not None and abs(ratio - 1) <= 0.25,
            f"estimate/measured {ratio}",
        )
    every = [*results["cases"], *results.get("max_parallel_cases", [])]
    runs = [r for c in every for r in c["runs"].values()]
    runs += [c["baseline"] for c in results["cases"] if "http_429" in c.get("baseline", {})]
    throttled = sum(r["http_429"] for r in runs)
    check("zero 429s in every run", throttled == 0, f"{throttled} 429s")
    if 100 in by_size and by_size[100].get("baseline"):
        case = by_size[100]
        speedup = report.speedup_over_baseline(case, world["time_scale"])
        check(
            "at least 20x faster than the baseline at 100 targets", speedup >= 20, f"{speedup:.1f}x"
        )
    exports = {c["targets"]: c["runs"]["apply"]["calls"].get("export", 0) for c in results["cases"]}
    check(f"exports = manifests ({m}) at every size", set(exports.values()) == {m}, str(exports))
    quick = {c["targets"]: c["runs"]["plan_no_refresh"]["total_calls"] for c in results["cases"]}
    limit = world["source_folders"] + m
    check(
        f"plan without target refresh: O(manifests) calls (<= {limit})",
        max(quick.values()) <= limit,
        str(quick),
    )
    full = {c["targets"]: c["runs"]["plan_refresh"]["calls_by_bucket"] for c in results["cases"]}
    ok = all(v.get("other", 0) <= limit and v.get("recipes", 0) <= n for n, v in full.items())
    check(
        f'plan with target refresh: O(manifests) "other" calls (<= {limit}), one recipe '
        "list per target",
        ok,
        str(full),
    )
    other = {c["targets"]: c["runs"]["apply"]["calls_by_bucket"].get("other", 0) for c in every}
    check(
        'apply: "other" calls do not grow with the fleet (O(manifests))',
        max(other.values()) - min(other.values()) <= m,
        str(other),
    )
    plan_real = biggest["runs"]["plan_refresh"]["real_equivalent_s"]
    check(
        f"plan with target refresh at {biggest['targets']} targets under 1 min real-time",
        plan_real < 60,
        f"{plan_real:.1f} s",
    )
    rss = apply["peak_rss_mb"]
    check(f"peak RSS under 200 MB at {biggest['targets']} targets", rss < 200, f"{rss:.0f} MB")
    p = results["planner"]
    cpu = max(p["first_plan_cpu_s"], p["refreshed_plan_cpu_s"])
    check("planner alone on 10,000 x 3 under 2 s CPU", cpu < 2.0, f"{cpu:.2f} s")
    help_s = results["startup"]["rlcm --help"]["median_s"]
    check("rlcm --help under 0.25 s", help_s < 0.25, f"{help_s * 1000:.0f} ms")
    val = results["startup"]["rlcm validate -c examples/manifests"]["median_s"]
    check("rlcm validate -c examples/manifests under 0.6 s", val < 0.6, f"{val * 1000:.0f} ms")
    return out


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())

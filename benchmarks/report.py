"""The table printed at the end, the JSON file and the plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def table(results: dict[str, Any]) -> str:
    """One row per run; F is the run's time factor (benchmarks/world.py)."""
    f = results["world"]["time_scale"]  # the baseline's
    rows = [
        "| targets | command | F | wall (scaled) | real-time equiv. | lower bound (real) "
        "| ratio | speed-up vs baseline | API calls | calls by bucket | calls/target | 429s "
        "| peak RSS | CPU s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for case in [*results["cases"], *results.get("max_parallel_cases", [])]:
        n = case["targets"]
        label = case.get("label", "")
        for name, r in case["runs"].items():
            speedup = ""
            if name == "apply" and case.get("baseline"):
                b = case["baseline"]
                mark = " (extrapolated)" if b["extrapolated"] else ""
                speedup = f"{speedup_over_baseline(case, f):.1f}x{mark}"
            lb = r["lower_bound"]["real_equivalent_s"]
            rows.append(
                f"| {n} | {name.replace('_', ' ')}{label} | {r.get('time_scale', f):g} "
                f"| {r['wall_s']:.2f} s | {_dur(_real(r, f))} | {_dur(lb)} "
                f"| {r['ratio_to_bound']:.2f} "
                f"| {speedup} | {r['total_calls']} | {_buckets(r)} | {r['calls_per_target']} "
                f"| {r['http_429']} | {r['peak_rss_mb']:.0f} MB | {r['cpu_s']:.1f} |"
            )
        b = case.get("baseline")
        if b and not b["extrapolated"]:
            rows.append(
                f"| {n} | baseline (sequential) | {f:g} | {b['wall_s']:.2f} s "
                f"| {_dur(b['wall_s'] * f)} "
                f"| | | | {b['total_calls']} | {_buckets(b)} | {b['calls_per_target']} "
                f"| {b['http_429']} | {b['peak_rss_mb']:.0f} MB | {b['cpu_s']:.1f} |"
            )
        elif b:
            rows.append(
                f"| {n} | baseline (extrapolated) | {f:g} | {b['wall_s']:.1f} s "
                f"| {_dur(b['wall_s'] * f)} | | | | | | | | | |"
            )
    return "\n".join(rows)


def speedup_over_baseline(case: dict[str, Any], f: float) -> float:
    """How many times faster than the sequential baseline (run at the world's F) the
    case's apply was, in real-time equivalents."""
    return float(case["baseline"]["wall_s"]) * f / _real(case["runs"]["apply"], f)


def _real(run: dict[str, Any], f: float) -> float:
    """A run's real-time equivalent: its wall time x its own time factor (results written
    before runs had one of their own were all at the world's)."""
    return float(run["wall_s"]) * float(run.get("time_scale", f))


def _buckets(run: dict[str, Any]) -> str:
    """`other 9, imports 3000, ...`: the calls of a run per quota bucket."""
    found: dict[str, int] = run.get("calls_by_bucket") or {}
    return ", ".join(f"{bucket} {n}" for bucket, n in found.items())


def extras(results: dict[str, Any]) -> str:
    lines = []
    for name, s in results["startup"].items():
        lines.append(f"- `{name}`: {s['median_s'] * 1000:.0f} ms (median of {s['runs']})")
    p = results["planner"]
    lines.append(
        f"- planner alone, {p['targets']:,} targets x {p['manifests']} manifests: first plan "
        f"{p['first_plan_cpu_s']:.2f} s CPU ({p['first_plan_imports']:,} imports), refreshed "
        f"fleet {p['refreshed_plan_cpu_s']:.2f} s CPU"
    )
    return "\n".join(lines)


def checks_text(results: dict[str, Any]) -> str:
    return "\n".join(
        f"- [{'x' if c['ok'] else ' '}] {c['target']}: {c['measured']}" for c in results["checks"]
    )


def _dur(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = results["world"]["time_scale"]
    cases = results["cases"]
    sizes = [c["targets"] for c in cases]
    rlcm = [_real(c["runs"]["apply"], f) / 60 for c in cases]
    bound = [c["runs"]["apply"]["lower_bound"]["real_equivalent_s"] / 60 for c in cases]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.plot(sizes, rlcm, "o-", label="rlcm apply", color="tab:blue")
    ax.plot(sizes, bound, "s--", label="quota lower bound", color="tab:green")
    measured = [(c["targets"], c["baseline"]) for c in cases if c.get("baseline")]
    xs = [n for n, b in measured]
    ys = [b["wall_s"] * f / 60 for n, b in measured]
    ax.plot(xs, ys, "^:", label="sequential baseline", color="tab:red")
    for n, b in measured:
        if b["extrapolated"]:
            ax.annotate("extrapolated", (n, b["wall_s"] * f / 60), fontsize=8, ha="right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("fleet size (targets, 3 manifests each)")
    ax.set_ylabel("wall time, real-time equivalent (minutes)")
    ax.set_title("rlcm apply vs quota lower bound vs baseline (real-time equivalents)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

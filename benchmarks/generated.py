"""A generated fleet in steady state: how long `rlcm plan` takes once every customer is
recorded, with the customer list read from Workato on every plan.

python -m benchmarks.generated [--customers 1000] [--time-scale 20]

Set-up, as a partner migrating would: N customers in the simulator, each with an
`Integrations` folder; the demo's manifests exported once (`apply --target 'export.*'`); the
current packages put into every folder as a script would have (`Simulator.seed_imported`);
`rlcm adopt --all`. Then two plans are measured: without target refresh (the customer list,
source folders and manifest views only: the target is 1 minute real time at 1,000 customers;
measured at time scale 1) and with it (one Recipes API list per customer, 2,000/minute;
measured time-scaled, like the set-up).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.fleet import _expect, rlcm
from benchmarks.measure import run
from benchmarks.world import MANIFESTS_YAML, World, fresh_quota, seed, served

STEADY_LIMIT_S = 60.0  # real-time equivalent, the target at 1,000 customers


def write_generated_config(directory: Path, base_url: str, world: World) -> Path:
    """The demo's manifests and one Fleet listed from Workato into `Integrations`."""
    directory.mkdir(parents=True, exist_ok=True)
    f = world.time_scale
    (directory / "workspace.yaml").write_text(
        "kind: Workspace\nname: partner\napi:\n"
        f"  base_url: {base_url}\n  auth: bearer\n  token_env: WORKATO_API_TOKEN\n"
        f"  rate_limits: {{time_scale: {f:g}}}\n"
        f"  poll: {{interval: {world.poll_interval / f:.6g}, "
        f"max_interval: {world.poll_max_interval / f:.6g}}}\n"
        "---\nkind: Source\nworkspace: partner\nmanaged_user: E-template\n"
    )
    (directory / "manifests.yaml").write_text(MANIFESTS_YAML.read_text())
    (directory / "fleet.yaml").write_text(
        "kind: Fleet\nname: generated\nworkspace: partner\n"
        "manifests: [shared-connections, crm-sync, billing-alerts]\n"
        "restart_recipes: true\n"
        'from_workato: {external_id: "-cust-*"}\n'
        "folder: Integrations\n"
    )
    return directory


def generated_case(customers: int, world: World, work: Path) -> dict[str, Any]:
    root = work / f"generated-{customers}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    sim = seed(root / "sim", customers, world)
    refs = [f"E-cust-{i:04d}" for i in range(1, customers + 1)]
    folders = {ref: sim.add_folder(ref, "Integrations") for ref in refs}
    with served(root / "sim", world) as url:
        cfg = str(write_generated_config(root / "config", url, world))
        export = rlcm("apply", "-c", cfg, "--auto-approve", "-q", "--target", "export.*")
        _expect(run(export, root, sim), (0,))
        for ref in refs:
            sim.seed_imported(ref, folders[ref])
        fresh_quota(world)
        adopt = _expect(run(rlcm("adopt", "-c", cfg, "--all", "--auto-approve"), root, sim), (0,))
        throttled = Counter(r.kind for r in sim.request_log() if r.status == 429)
        fresh_quota(world)
        full = _expect(run(rlcm("plan", "-c", cfg, "--detailed-exitcode"), root, sim), (0,))
    # The steady-state plan is measured in real time (time scale 1): its few calls wait for
    # latency, not for quotas, and a scaled run would multiply its CPU time by the scale.
    real = replace(world, time_scale=1.0)
    with served(root / "sim", real) as url:
        cfg = str(write_generated_config(root / "config", url, real))
        quick = rlcm("plan", "-c", cfg, "--detailed-exitcode", "--no-refresh-targets")
        steady = _expect(run(quick, root, sim), (0,))
    out: dict[str, Any] = {"customers": customers, "world": world.as_dict(), "runs": {}}
    scales = {"adopt": world, "plan_no_refresh": real, "plan_refresh": world}
    for name, step in {"adopt": adopt, "plan_no_refresh": steady, "plan_refresh": full}.items():
        out["runs"][name] = {
            **step.as_dict(),
            "time_scale": scales[name].time_scale,
            "real_equivalent_s": round(step.wall_s * scales[name].time_scale, 1),
        }
    out["imports_during_adopt"] = adopt.calls.get("import", 0)
    out["adopt_429_by_kind"] = dict(throttled)
    shutil.rmtree(root / "sim" / "packages", ignore_errors=True)
    return out


def checks(case: dict[str, Any]) -> list[dict[str, Any]]:
    steady = case["runs"]["plan_no_refresh"]
    calls = steady["calls"]
    pages = -(-(case["customers"] + 14) // 100)  # 100 per page; the demo's 14 besides
    return [
        {
            "target": f"steady-state plan of {case['customers']} generated customers within "
            f"{STEADY_LIMIT_S:.0f} s real-time equivalent",
            "ok": steady["real_equivalent_s"] <= STEADY_LIMIT_S,
            "measured": f"{steady['real_equivalent_s']:.1f} s",
        },
        {
            "target": "steady state reads no folder: customer pages + source folders + views",
            "ok": "folders_list" not in calls and calls.get("customers_list") == pages,
            "measured": json.dumps(calls, sort_keys=True),
        },
        {
            "target": "adopting the fleet imports nothing",
            "ok": case["imports_during_adopt"] == 0,
            "measured": str(case["imports_during_adopt"]),
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generated")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--time-scale", type=float, default=World.time_scale)
    args = parser.parse_args(argv)
    world = World(time_scale=args.time_scale)
    case = generated_case(args.customers, world, Path(tempfile.mkdtemp(prefix="rlcm-bench-")))
    case["checks"] = checks(case)
    json.dump(case, sys.stdout, indent=2)
    print()
    return 0 if all(c["ok"] for c in case["checks"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())

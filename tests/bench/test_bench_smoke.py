"""The fleet benchmark in miniature (10 targets, heavily time-scaled), so it never rots.

It runs the same code as `make bench`: the simulator served over HTTP in its own process,
rlcm plan/apply/plan as subprocesses, the sequential baseline and the lower bound.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchmarks.__main__ import _extrapolate_baseline
from benchmarks.bound import apply_bound, drift_bound, plan_bound, window_bound
from benchmarks.fleet import baseline_case, rlcm_case
from benchmarks.world import World

pytestmark = pytest.mark.http

FAST = World(time_scale=200.0, min_scaled_bound=0)


def test_the_lower_bound_follows_the_quotas() -> None:
    assert window_bound(60, 60, 60.0) == 0  # one window's worth goes at once
    assert window_bound(61, 60, 60.0) == 60.0
    world = World()
    big = apply_bound(1000, world)
    # no per-target call in the 60/minute bucket: 94 rounds of 32 imports set the bound
    assert big.binding == "max_parallel and job duration"
    assert (big.other_calls, big.recipe_calls) == (3 + 9, 1000)
    assert big.seconds == pytest.approx((5 + 4 * 0.25) + 94 * (5 + 0.25) + 0.25)
    wide = apply_bound(1000, replace(world, max_parallel=100))
    # 3,000 imports at 1,000 a minute: the last 1,000 start two windows after the first,
    # 100 at a time, each running its job (30 rounds of 100 alone would take less)
    assert wide.binding == "imports quota"
    assert wide.seconds == pytest.approx((5 + 4 * 0.25) + 120 + 10 * (5 + 0.25) + 0.25)
    many = apply_bound(2001 * 3, replace(world, max_parallel=10_000))
    assert many.binding == "imports quota"  # 6,003 imports: six more windows
    small = apply_bound(10, world)
    assert small.binding == "max_parallel and job duration"
    # export first, then three imports one after another, then the recipe read
    assert small.seconds == pytest.approx((5 + 4 * 0.25) + 3 * (5 + 0.25) + 0.25)
    plan = plan_bound(1000, world, views=3, refresh_targets=True)
    assert plan.seconds == pytest.approx(world.latency) and plan.recipe_calls == 1000
    drift = drift_bound(1000, world, views=3)
    assert drift.seconds == pytest.approx(16 * 60 + world.latency)  # 1,006 folder reads


def test_ten_targets_plan_apply_plan_and_the_baseline(tmp_path: Path) -> None:
    # each run at the factor its bound allows: the apply's 22 s bound at 44, so that it
    # lasts half a second; the plans and drift (one answer's latency) in real time
    case = rlcm_case(10, replace(FAST, min_scaled_bound=0.5), tmp_path)
    runs = case["runs"]
    scales = {name: run["time_scale"] for name, run in runs.items()}
    assert scales == {
        "plan_fresh": 1, "apply": 44, "plan_refresh": 1, "plan_no_refresh": 1, "drift": 1,
    }  # fmt: skip
    apply = runs["apply"]
    # the real-time equivalents count each run at its own factor, and so does the
    # plan's estimate (made in real time) against the apply (made 44 times faster)
    assert apply["real_equivalent_s"] == pytest.approx(apply["wall_s"] * 44, abs=0.1)
    assert apply["lower_bound"]["scaled_s"] == pytest.approx(22 / 44, abs=0.001)
    estimate = apply["estimate"]
    assert estimate["real_equivalent_s"] == pytest.approx(estimate["scaled_s"], abs=0.05)
    real = apply["wall_s"] * 44  # (mostly rlcm's start-up: 44 times a second or two)
    assert apply["estimate_ratio"] == pytest.approx(estimate["scaled_s"] / real, rel=0.01)
    assert apply["exit_code"] == 0 and apply["http_429"] == 0
    assert apply["calls"]["export"] == 3  # one export per manifest, not per target
    assert apply["calls"]["import"] == 30
    # source folders (3); one baseline read per target after its last import, Recipes API;
    # and the plan's pre-flight of the 10 new targets: a customer and a folder check each
    assert apply["calls"]["folder_assets"] == 3 and apply["calls"]["recipes_list"] == 10 + 10
    assert apply["calls_by_bucket"]["recipes"] == 10 + 10
    assert apply["calls"]["folders_list"] == apply["calls_by_bucket"]["folders"] == 10
    assert runs["plan_refresh"]["exit_code"] == 0  # no changes after the apply
    assert runs["plan_refresh"]["calls"] == {
        "folder_assets": 3, "manifest_view": 3, "recipes_list": 10,
    }  # fmt: skip
    assert runs["plan_refresh"]["calls_by_bucket"] == {"other": 6, "recipes": 10}
    # drift also reads each target's other assets, in the "other" bucket
    assert runs["drift"]["exit_code"] == 0
    assert runs["drift"]["calls_by_bucket"] == {"other": 6 + 10, "recipes": 10}
    assert runs["plan_no_refresh"]["calls"] == {"folder_assets": 3, "manifest_view": 3}

    case["baseline"] = baseline_case(10, FAST, tmp_path)
    assert case["baseline"]["calls"]["export"] == 30  # the peers' way: one per import
    bigger: dict[str, Any] = {"targets": 20, "runs": {}}
    _extrapolate_baseline([case, bigger])
    assert bigger["baseline"]["extrapolated"] is True


def test_a_time_scaled_limiter_counts_shorter_windows() -> None:
    from reconciler.workato.limits import SlidingWindowLimiter, window_for_rate

    assert window_for_rate(60, 60 / 20) == (60, 3.0)
    limiter = SlidingWindowLimiter.per_minute(60, time_scale=20)
    assert limiter.limit == 60 and limiter.window == pytest.approx(3.1)  # window + margin


def test_the_bound_at_a_stricter_servers_hourly_import_quota() -> None:
    from dataclasses import replace

    from benchmarks.strict import CASES

    assert CASES == (
        "other_half_no_retry_after",
        "imports_tenth_retry_after",
        "imports_hourly_fixed",
    )
    hourly = replace(World(), quota_imports=100, imports_window=3600.0)
    bound = apply_bound(50, hourly)  # 150 imports at 100 an hour: one reset to wait for
    assert bound.binding == "imports quota"
    # then the last 50, 32 at a time
    assert bound.seconds == pytest.approx((5 + 4 * 0.25) + 3600 + 2 * (5 + 0.25) + 0.25)
    half = apply_bound(200, replace(World(), quota_other=30))
    # per-target reads go through the Recipes API: half the "other" quota leaves it with
    # only the source's and the manifests' calls, so the imports still bind
    assert half.binding == "max_parallel and job duration"
    assert half.other_calls == 3 + 9 and half.recipe_calls == 200


def test_the_bound_of_a_catalogue_at_half_the_other_quota() -> None:
    from benchmarks.strict import _cases

    [case] = [c for c in _cases(World()) if c.name == "other_half_no_retry_after"]
    world = case.real
    assert (world.products, world.manifests, world.exported, world.quota_other) == (10, 2, 20, 30)
    first = apply_bound(50, world)
    # 20 folder reads, then per manifest a create, an export and its status poll: 80 calls
    # at 30 a minute, the last two windows after the first; then the last manifest's
    # imports (a job and its poll) and the target's baseline read
    assert first.binding == '"other" quota (30/min)' and first.other_calls == 80
    assert first.seconds == pytest.approx(2 * 60 + 0.25 + (5 + 0.25) + 0.25)
    second = apply_bound(50, world, refreshed=50, first=False)
    # the refresh's 20 folder reads and 20 manifest views (one window after the first),
    # then the plan's 100 imports: 4 rounds of 32, each target's 2 one after another
    assert second.binding == '"other" quota (30/min)' and second.other_calls == 40
    assert second.seconds == pytest.approx(60 + 0.25 + 4 * (5 + 0.25) + 0.25)
    # the 1,000-target fleet keeps its bound: its "other" calls fit in one window
    assert apply_bound(1000, World()).seconds == pytest.approx(6 + 94 * 5.25 + 0.25)
    with pytest.raises(ValueError, match="one source folder per manifest"):
        replace(world, source_folders=3)


def test_a_catalogue_case_runs_end_to_end(tmp_path: Path) -> None:
    from benchmarks.strict import _cases, run_strict, strict_case

    [case] = [c for c in _cases(FAST) if c.name == "other_half_no_retry_after"]
    small = replace(case, real=replace(case.real, products=2, source_folders=4))
    result = strict_case(small, 8, tmp_path)
    first, second = result, result["second"]
    assert (first["exit_code"], second["exit_code"]) == (0, 0)
    assert first["failed_imports"] == second["failed_imports"] == 0
    # 4 targets each time, each importing only its product's 2 manifests
    assert first["imports"] == second["imports"] == 4 * 2
    # 4 folder reads, then per manifest a create, an export and at least one status poll
    assert first["bucket_calls"] >= 4 + 3 * 4 and first["lower_bound"]["other_calls"] == 16
    assert second["lower_bound"]["other_calls"] == 4 + 4  # the refresh: folders, manifests
    with pytest.raises(ValueError, match="unknown strict case nope"):
        run_strict(FAST, 8, tmp_path, ["nope"])


def test_each_run_is_compressed_only_as_far_as_its_bound_allows() -> None:
    world = World()  # F = 20 at most; no bound below 120 real seconds
    # an apply bound by 94 rounds of imports (8.3 min) is played at 4.1, a 3-minute one at
    # 1.4: rlcm's own CPU seconds, which no factor compresses, count 4.1 and 1.4 times
    assert world.for_bound(apply_bound(1000, world).seconds).time_scale == 4.1
    wide = replace(world, max_parallel=100)
    assert world.for_bound(apply_bound(1000, wide).seconds).time_scale == 1.4
    assert world.for_bound(drift_bound(1000, world, views=3).seconds).time_scale == 8.0
    # a plan bound by one answer's latency runs in real time; a long run at F itself
    assert world.for_bound(0.25).time_scale == 1.0
    assert world.for_bound(3600.0).time_scale == 20.0
    assert replace(world, min_scaled_bound=0).for_bound(0.25).time_scale == 20.0

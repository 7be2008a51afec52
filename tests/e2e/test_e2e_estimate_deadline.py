"""The plan says how long the apply will take, and `rlcm apply --max-duration` stops in
time: exit 4, everything started recorded, and the next apply continues."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from apply_fixtures import FAST, World

HOURLY = "{imports: {requests: 10, per: hour}, import_status: 100000, other: 100000}"


def _workspace(limits: str) -> str:
    return (
        "kind: Workspace\nname: partner\napi:\n"
        "  base_url: sim://../sim\n  auth: bearer\n  token_env: WORKATO_API_TOKEN\n"
        f"  rate_limits: {limits}\n  {FAST}\n"
        "---\nkind: Source\nworkspace: partner\nmanaged_user: E-template\n"
    )


def _planned_estimate(world: World) -> dict[str, Any]:
    """The estimate `rlcm plan --format json` gives of the apply."""
    planned = world.rlcm("plan", "--format", "json")
    assert planned.exit_code == 0, planned.stderr
    estimate: dict[str, Any] = json.loads(planned.stdout)["estimate"]
    return estimate


def test_every_plan_format_names_the_binding_quota(tmp_path: Path) -> None:
    world = World(tmp_path / "world")
    world.write("workspace.yaml", _workspace(HOURLY))
    as_json = world.rlcm("plan", "--format", "json")
    assert as_json.exit_code == 0, as_json.stderr
    estimate = json.loads(as_json.stdout)["estimate"]
    # 39 imports at 10 an hour: the first 10 at once, then an hour for each 10 more
    assert estimate["binding"] == "39 imports at 10/hour"
    assert estimate["seconds"] == 3 * 3600
    assert estimate["text"] == "39 imports at 10/hour: at least 3 h"
    text = world.rlcm("plan")
    assert "Estimated apply time: 39 imports at 10/hour: at least 3 h" in text.stdout
    markdown = world.rlcm("plan", "--format", "markdown")
    assert "Estimated apply time: 39 imports at 10/hour: at least 3 h" in markdown.stdout


def test_the_targets_baseline_reads_count_in_the_recipes_bucket(tmp_path: Path) -> None:
    world = World(tmp_path / "world")
    world.write("workspace.yaml", _workspace("{other: 4, imports: 100000, import_status: 100000}"))
    estimate = json.loads(world.rlcm("plan", "--format", "json").stdout)["estimate"]
    terms = [t["text"] for t in estimate["terms"]]
    # the apply's own refresh (3 source folders), then 3 manifest creates and 3 exports
    # (a start and a status poll each) in "other"; the 13 targets' baseline reads go to
    # the Recipes API, not to the scarce "other" quota
    other = '12 "other" calls (3 of them the refresh\'s reads) at 4/minute'
    assert other in terms
    assert "13 recipe list reads at 2,000/minute" in terms
    assert estimate["text"] == f"{other}: at least 2 min"


def test_the_plan_counts_the_reads_the_apply_makes_before_its_first_step(
    tmp_path: Path,
) -> None:
    world = World(tmp_path / "world", customers=8)
    world.generic_fleet(4)
    assert world.apply().exit_code == 0
    # four more customers; the scarce quota is now 2 "other" calls a minute (a minute
    # lasting one second: the plan's own reads wait out two of them)
    world.generic_fleet(8)
    limits = "{other: 2, imports: 100000, import_status: 100000, time_scale: 60}"
    poll = "poll: {interval: 10, max_interval: 10}"
    world.write("workspace.yaml", _workspace(limits).replace(FAST, poll))
    estimate = _planned_estimate(world)
    # no manifest change and no export: apply's refresh (3 source folders and 3 manifest
    # views at 2 a minute: two windows after the first) comes before the 12 imports
    # (3 rounds of a 10 s poll: each new target's 3 one after another)
    assert estimate["seconds"] == 2 * 1 + 3 * 10
    assert estimate["binding"] == (
        "12 imports, 8 in parallel, each polled done, after "
        '6 "other" calls (the refresh\'s reads) at 2/minute'
    )


def test_a_binding_import_quota_counts_the_exports_and_the_last_window(tmp_path: Path) -> None:
    world = World(tmp_path / "world")
    limits = "{imports: 5, import_status: 100000, other: 100000}"
    world.write(
        "workspace.yaml", _workspace(limits).replace(FAST, "poll: {interval: 30, max_interval: 30}")
    )
    estimate = _planned_estimate(world)
    # exports first (a poll interval), 39 imports at 5 a minute (seven windows after the
    # first), then the last window's 4 imports, seen done a poll later
    assert estimate["binding"] == "39 imports at 5/minute"
    assert estimate["seconds"] == 30 + 7 * 60 + 30


def test_the_job_rounds_follow_the_runners_slots(tmp_path: Path) -> None:
    world = World(tmp_path / "world", customers=20)
    world.generic_fleet(20)
    limits = "{imports: 100000, import_status: 100000, other: 100000}"
    poll = "poll: {interval: 30, max_interval: 30}"
    world.write("workspace.yaml", _workspace(limits).replace(FAST, poll))
    estimate = _planned_estimate(world)
    # 20 targets of 3 imports, 8 slots, after the exports' round: a target under way is
    # served first (3 rounds for each 8 targets) until the imports left fit in the rounds
    # of a target not started; then those go first: the 8 rounds 60 / 8 gives (depth
    # first alone: 9, the last 4 targets on 4 slots)
    assert estimate["binding"] == "60 imports, 8 in parallel, each polled done"
    assert estimate["seconds"] == (1 + 8) * 30


def test_the_default_quotas_bind_on_the_jobs_and_apply_says_so_first(tmp_path: Path) -> None:
    world = World(tmp_path / "world")
    world.sim.stop_recipe("E-umbrella", "Sync accounts")
    estimate = json.loads(world.rlcm("plan", "--format", "json").stdout)["estimate"]
    assert estimate["binding"] == "39 imports, 8 in parallel, each polled done"
    applied = world.apply()
    assert applied.exit_code == 0, applied.stderr
    # before any step (only notes, such as the first apply's, may come first)
    first = next(ln for ln in applied.stderr.splitlines() if not ln.startswith("Note: "))
    assert first.startswith("Estimated apply time: 39 imports, 8 in parallel"), applied.stderr
    assert json.loads(world.rlcm("plan", "--format", "json").stdout)["estimate"] is None


def test_max_duration_stops_in_time_exits_4_and_the_next_apply_continues(
    tmp_path: Path,
) -> None:
    world = World(tmp_path / "world")
    world.sim.stop_recipe("E-umbrella", "Sync accounts")
    world.sim.set_latency(0.15)  # every answer takes 0.15 s: the apply takes seconds
    report = tmp_path / "r.json"
    stopped = world.apply("--max-duration", "1.5s", "--report", report)
    assert stopped.exit_code == 4, stopped.stdout + stopped.stderr
    data = json.loads(report.read_text())
    assert data["exit_code"] == 4 and "stopped at the --max-duration deadline" in data["deadline"]
    steps = data["steps"]
    waiting = [s for s in steps if s["status"] == "interrupted"]
    assert waiting and all("run `rlcm apply` again" in s["message"] for s in waiting)
    assert not [s for s in steps if s["status"] == "failed"]
    done = {s["address"] for s in steps if s["status"] == "succeeded"}
    assert done  # what started before the deadline finished and was recorded
    # the next plan holds exactly what was not started, and the next apply finishes it
    again = json.loads(world.rlcm("plan", "--format", "json").stdout)
    planned = {c["address"] for c in again["changes"]}
    assert planned and not planned & done
    world.sim.set_latency(0.0)
    assert world.apply().exit_code == 0
    assert world.rlcm("plan", "--detailed-exitcode").exit_code == 0


def test_a_bad_max_duration_is_one_clear_error(tmp_path: Path) -> None:
    world = World(tmp_path / "world")
    bad = world.apply("--max-duration", "soon")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == (
        "Error: --max-duration 'soon': expected a duration such as 5h30m, 90m or 45s"
    )

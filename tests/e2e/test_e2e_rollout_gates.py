"""Rollouts that stop where they should: wave gates, the emergency brake, and what
`rlcm validate` says of a threshold that can never trigger.

Failures are injected with the simulator's `fail_next_import`; every claim about what ran
is read back from the simulator's import jobs.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from apply_fixtures import DEMO_MANIFESTS, World, generic_customers

FAIL = {"Sync accounts": "stop_failed"}  # a recipe result that fails the import


def two_fleets(world: World, first: int, second: int, rollout: str) -> None:
    """`first` generic customers in wave one, the next `second` in wave two."""
    for name in ("targets.yaml", "fleet-emea.yaml"):
        world.remove(name)
    refs = generic_customers(first + second)
    for index, (wave, part) in enumerate((("one", refs[:first]), ("two", refs[first:]))):
        lines = [
            "kind: Fleet",
            f"name: fleet-{wave}",
            "workspace: partner",
            f"manifests: [{', '.join(DEMO_MANIFESTS)}]",
            "restart_recipes: true",
            f"wave: {wave}",
            "customers:",
            *(f'  - {{customer: "{ref}", folder_id: {folder}}}' for ref, folder in part),
        ]
        world.write(f"fleet-{index}.yaml", "\n".join(lines) + "\n")
    world.write("rollout.yaml", rollout)


def imported_folders(world: World) -> set[int]:
    return {int(job["params"]["folder_id"]) for job in world.sim.jobs("import")}


def report_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_the_example_rollout_halts_main_when_its_one_target_canary_fails(tmp_path: Path) -> None:
    world = World(tmp_path)  # examples/manifests/rollout.yaml as shipped
    world.sim.fail_next_import("E-acme-001", 1827, FAIL)

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 3, result.stderr
    assert imported_folders(world) == {1827}  # nothing reached the main wave
    report = report_of(tmp_path / "r.json")
    assert report["halted_after_wave"] == "canary"
    assert report["halted_by"] == "wave"
    assert report["halt_reason"] == (
        "the gate of wave canary stopped wave main: 1 of 1 target failed (acme), max_failures is 0"
    )
    main = [s for s in report["steps"] if s["kind"] == "import" and s["wave"] == "main"]
    assert len(main) == 36
    assert {s["status"] for s in main} == {"skipped"}
    assert {s["message"] for s in main} == {"not started: the gate of wave canary failed"}
    # the report says which gate stopped what, once
    assert result.stdout.count("the gate of wave canary stopped wave main") == 1
    assert "Halted: the gate of wave canary stopped wave main" in result.stdout
    assert "halted after wave canary: halted" not in result.stdout


def test_a_wave_within_its_failure_budget_lets_the_next_wave_start(tmp_path: Path) -> None:
    world = World(tmp_path, customers=6)
    rollout = "kind: Rollout\nwaves:\n  - {name: one, max_failures: 25%}\n  - two\n"
    two_fleets(world, 4, 2, rollout)
    world.sim.fail_next_import("E-cust-0001", 50001, FAIL)

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 3  # one import failed
    assert imported_folders(world) == {50_000 + i for i in range(1, 7)}
    assert report_of(tmp_path / "r.json")["halted_after_wave"] is None
    assert "Halted" not in result.stdout


def test_a_wave_over_its_percentage_budget_stops_the_next_wave(tmp_path: Path) -> None:
    world = World(tmp_path, customers=6)
    rollout = "kind: Rollout\nwaves:\n  - {name: one, max_failures: 25%}\n  - two\n"
    two_fleets(world, 4, 2, rollout)
    world.sim.fail_next_import("E-cust-0001", 50001, FAIL)
    world.sim.fail_next_import("E-cust-0002", 50002, FAIL)

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 3
    assert imported_folders(world) == {50001, 50002, 50003, 50004}
    reason = report_of(tmp_path / "r.json")["halt_reason"]
    assert reason == (
        "the gate of wave one stopped wave two: 2 of 4 targets failed "
        "(E-cust-0001/50001, E-cust-0002/50002), max_failures is 25% (1 of 4)"
    )


def test_the_emergency_brake_stops_targets_of_the_same_wave(tmp_path: Path) -> None:
    world = World(tmp_path, customers=5)
    world.generic_fleet(5, waves=["main"], max_parallel=1, halt=1)
    world.sim.fail_next_import("E-cust-0001", 50001, FAIL)

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 3
    assert imported_folders(world) == {50001}
    report = report_of(tmp_path / "r.json")
    assert report["halted_by"] == "brake"
    assert "halt_after_failures is 1" in report["halt_reason"]
    later = [
        s for s in report["steps"] if s["kind"] == "import" and s["target"] != "E-cust-0001/50001"
    ]
    assert len(later) == 12
    assert {s["message"] for s in later} == {"not started: halt_after_failures was reached"}


OLD_SHAPE = "kind: Rollout\nwaves: [canary, main]\nmax_parallel: 8\nhalt_after_failures: 3\n"


def test_validate_warns_of_the_old_example_shape_and_not_of_the_fixed_example(
    tmp_path: Path,
) -> None:
    world = World(tmp_path)

    fixed = world.rlcm("validate")
    world.write("rollout.yaml", OLD_SHAPE)
    old = world.rlcm("validate")

    assert fixed.exit_code == 0 and "warning" not in fixed.stderr
    assert old.exit_code == 0
    assert "rollout.yaml:4:" in old.stderr or "halt_after_failures 3" in old.stderr
    assert "halt_after_failures 3 can never trigger in wave canary (1 target)" in old.stderr


def test_validate_warns_of_a_wave_budget_as_large_as_the_wave(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.write(
        "rollout.yaml", "kind: Rollout\nwaves:\n  - {name: canary, max_failures: 1}\n  - main\n"
    )

    run = world.rlcm("validate", "--format", "json")

    assert run.exit_code == 0
    [warning] = json.loads(run.stdout)["warnings"]
    assert warning["line"] == 3
    assert "wave canary: max_failures 1 can never stop a later wave" in warning["message"]


def test_a_bad_wave_threshold_is_an_error_with_its_position(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.write(
        "rollout.yaml", "kind: Rollout\nwaves:\n  - {name: canary, max_failures: ten}\n  - main\n"
    )

    run = world.rlcm("validate")

    assert run.exit_code == 1
    assert "rollout.yaml:3" in run.stderr
    assert "max_failures" in run.stderr


# -- batches ------------------------------------------------------------------------------


def one_wave_in_batches(world: World, customers: int, wave: str) -> None:
    world.generic_fleet(customers, waves=["main"])
    world.write("rollout.yaml", f"kind: Rollout\nwaves:\n  - {wave}\n")


def test_a_failure_in_a_ten_percent_batch_stops_the_next_batch(tmp_path: Path) -> None:
    world = World(tmp_path, customers=20)
    one_wave_in_batches(world, 20, "{name: main, batches: [10%, 100%]}")
    world.sim.fail_next_import("E-cust-0001", 50001, FAIL)

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 3
    assert imported_folders(world) == {50001, 50002}  # 10% of 20
    report = report_of(tmp_path / "r.json")
    assert report["halted_by"] == "batch"
    assert report["halt_reason"] == (
        "the gate of wave main after batch 1 of 2 stopped batch 2 of wave main: 1 of 2 "
        "targets run so far failed (E-cust-0001/50001), max_failures is 0"
    )
    skipped = [s for s in report["steps"] if s["status"] == "skipped"]
    assert len(skipped) == 18 * 3
    assert {s["message"] for s in skipped} == {
        "not started: the gate of wave main after batch 1 of 2 failed"
    }
    assert "Halted: the gate of wave main after batch 1 of 2" in result.stdout


def test_batches_run_one_after_another_in_config_order(tmp_path: Path) -> None:
    world = World(tmp_path, customers=10)
    one_wave_in_batches(world, 10, "{name: main, batches: [1, 50%, 100%]}")

    result = world.apply()

    assert result.exit_code == 0, result.stderr
    jobs = world.sim.jobs("import")
    spans: dict[int, tuple[float, float]] = {}
    for job in jobs:
        folder = int(job["params"]["folder_id"])
        start, end = spans.get(folder, (job["created"], job["finished"]))
        spans[folder] = (min(start, job["created"]), max(end, job["finished"]))
    batches = [[50001], [50002, 50003, 50004, 50005], [50006, 50007, 50008, 50009, 50010]]
    for earlier, later in itertools.pairwise(batches):
        assert max(spans[f][1] for f in earlier) <= min(spans[f][0] for f in later)


def test_a_batch_within_its_budget_lets_the_next_batch_run(tmp_path: Path) -> None:
    world = World(tmp_path, customers=10)
    one_wave_in_batches(world, 10, "{name: main, max_failures: 20%, batches: [5, 100%]}")
    world.sim.fail_next_import("E-cust-0001", 50001, FAIL)

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 3  # the failed import
    assert imported_folders(world) == {50_000 + i for i in range(1, 11)}  # 1 of 5 is 20%
    assert report_of(tmp_path / "r.json")["halted_by"] is None


def test_a_percentage_budget_counts_the_targets_run_so_far(tmp_path: Path) -> None:
    world = World(tmp_path, customers=10)
    one_wave_in_batches(world, 10, "{name: main, max_failures: 10%, batches: [5, 100%]}")
    world.sim.fail_next_import("E-cust-0001", 50001, FAIL)

    result = world.apply("--report", tmp_path / "r.json")

    assert result.exit_code == 3  # 1 of 5 is over 10% of 5 (0), though not of 10
    assert imported_folders(world) == {50001, 50002, 50003, 50004, 50005}
    assert "max_failures is 10% (0 of 5)" in report_of(tmp_path / "r.json")["halt_reason"]


def test_batch_sizes_must_grow(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.write(
        "rollout.yaml",
        "kind: Rollout\nwaves:\n  - canary\n  - {name: main, batches: [50%, 10%]}\n",
    )

    run = world.rlcm("validate")

    assert run.exit_code == 1
    assert "rollout.yaml:4:" in run.stderr
    assert "waves[1].batches[1]: 10% is not larger than 50%" in run.stderr

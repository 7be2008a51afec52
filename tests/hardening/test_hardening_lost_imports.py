"""An import POST whose answer is lost (504, dropped connection, timeout) is never sent twice.

Workato may have started the import: a pending marker is on disk before the POST, and
rlcm finds out what Workato did (the target folder showing the package) before it sends
the package again, in the same run and in the next one. The simulator's `processed`
faults do the work and then lose the answer, as a gateway or a dropped connection does.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from hardening_world import World, check_result, record

LOST: dict[str, dict[str, Any]] = {
    "504": {"fault": "504"},
    "drop": {"fault": "drop"},
    "timeout": {"fault": "slow", "delay": 3.0},  # the world's request timeout is 2 s
}


def _import_posts(world: World) -> Counter[str]:
    """Import POSTs the simulator received, by target folder and package digest."""
    posts: Counter[str] = Counter()
    for job in world.sim.jobs("import"):
        blob = world.sim.package_zip(int(job["id"])) or b""
        posts[f"{job['params']['folder_id']}:{hash(blob)}"] += 1
    return posts


@pytest.mark.parametrize("case", sorted(LOST))
def test_a_lost_import_answer_is_found_out_not_sent_again(world: World, case: str) -> None:
    record("faults_tried")
    fault = LOST[case]
    world.sim.inject_fault(
        "import", fault["fault"], delay=float(fault.get("delay", 45.0)), processed=True
    )
    first = world.run("apply", "--auto-approve")
    check_result(world, first)
    again = world.run("apply", "--auto-approve")
    check_result(world, again)
    assert again.exit_code == 0, again.output

    posts = _import_posts(world)
    record("lost_import_answers")
    record("lost_answer_duplicates", sum(n - 1 for n in posts.values()))
    assert len(posts) == 2 and set(posts.values()) == {1}, posts
    state = world.state()
    assert {r.status for r in state.imports.values()} == {"completed"}
    assert not state.pending_imports
    assert world.run("plan", "--detailed-exitcode").exit_code == 0
    record("faults_handled")


def test_a_lost_answer_not_yet_visible_is_checked_by_the_next_run(world: World) -> None:
    """The folder does not show the import within the run (a long job): the step fails
    naming what happened, and the next run checks the folder before sending again."""
    workspace = world.config / "workspace.yaml"
    workspace.write_text(workspace.read_text().replace("timeout: 30", "timeout: 0.5"))
    world.sim.set_job_timing(duration=1.5, polls=2)
    world.sim.inject_fault("import", "504", processed=True)
    first = world.run("apply", "--auto-approve")
    check_result(world, first)
    assert first.exit_code == 3, first.output
    assert "answer to the import was lost" in first.output
    assert world.state().pending_imports

    deadline = time.monotonic() + 10
    while any(j["status"] == "in_progress" for j in world.sim.jobs("import")):
        assert time.monotonic() < deadline, "the simulator never finished the import"
        time.sleep(0.05)
        world.sim.folder_assets("E-acme-001", 1827)  # finishes a job whose time is up
    again = world.run("apply", "--auto-approve")
    assert again.exit_code == 0, again.output
    assert set(_import_posts(world).values()) == {1}
    assert not world.state().pending_imports

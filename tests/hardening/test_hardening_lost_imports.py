"""An import POST whose answer is lost (504, dropped connection, timeout) is never sent twice.

Workato may have started the import: a pending marker is on disk before the POST, and
rlcm finds out what Workato did (the target folder showing the package) before it sends
the package again, in the same run and in the next one. The simulator's `processed`
faults do the work and then lose the answer, as a gateway or a dropped connection does.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from hardening_world import POLL_TIMEOUT, World, check_result, record

from reconciler.applier.session import COMMIT_WINDOW, apply_plan
from reconciler.cli.connect import SIM_BASE_URL
from reconciler.cli.workflow import load_inputs, refresh_and_plan
from reconciler.simulator.transport import SimTransport
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.limits import QuotaLimiters
from tests.e2e.apply_fixtures import World as E2EWorld

# fault, its delay in seconds (only `slow` uses it; the world's request timeout is 2 s)
LOST: dict[str, tuple[str, float]] = {
    "504": ("504", 45.0),
    "drop": ("drop", 45.0),
    "timeout": ("slow", 3.0),
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
    fault, delay = LOST[case]
    world.sim.inject_fault("import", fault, delay=delay, processed=True)
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
    poll_timeout = f"timeout: {POLL_TIMEOUT:g}}}"
    assert poll_timeout in workspace.read_text()
    workspace.write_text(workspace.read_text().replace(poll_timeout, "timeout: 0.5}"))
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


class _Timed(httpx.AsyncBaseTransport):
    """The simulator, noting when each import POST leaves, whether its pending marker was
    on disk then, and when the job's first status poll (which waits for its id on disk,
    reconciler/applier/recorder.py) leaves."""

    def __init__(self, sim_dir: Path, state_path: Path) -> None:
        self.inner = SimTransport(sim_dir)
        self.state_path = state_path
        self.posts: list[tuple[float, bool, int]] = []  # (sent at, marker on disk, job id)
        self.first_poll: dict[int, float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent = time.monotonic()
        is_post = request.method == "POST" and request.url.path.endswith("/imports")
        marked = is_post and '"pending_imports"' in self.state_path.read_text()
        response = await self.inner.handle_async_request(request)
        if is_post:
            await response.aread()
            body = response.json()
            self.posts.append((sent, marked, int(body.get("result", body)["id"])))
        found = re.search(r"/imports/(\d+)$", request.url.path)
        if request.method == "GET" and found:
            self.first_poll.setdefault(int(found[1]), sent)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_the_import_window_is_short_and_every_post_has_its_marker_first(tmp_path: Path) -> None:
    """The window a SIGKILL can still fall into: from the import POST leaving to its job id
    on disk (at most the POST's round trip, COMMIT_WINDOW and one state write)."""
    world = E2EWorld(tmp_path / "w", customers=8)
    world.generic_fleet(8, waves=["main"], max_parallel=4)
    inputs = load_inputs(world.config, world.state_path)
    rates = inputs.desired.workspaces["partner"].rate_limits
    settings = ClientSettings(
        base_url=SIM_BASE_URL,
        token="demo-token",
        rate_limits=rates,
        poll=inputs.desired.workspaces["partner"].poll,
        limiters=QuotaLimiters.from_rates(rates),
    )
    timed = _Timed(world.sim_dir, world.state_path)

    async def go() -> None:
        async with WorkatoClient(settings, transport=timed) as client:
            plan, _, _ = await refresh_and_plan(inputs, {"partner": client})
            report = await apply_plan(inputs, {"partner": client}, plan)
            assert report.exit_code == 0, [s.message for s in report.steps if s.message]

    asyncio.run(go())
    assert len(timed.posts) == 24 and all(marked for _, marked, _ in timed.posts)
    windows = [timed.first_poll[job] - sent for sent, _, job in timed.posts]
    worst = max(windows) * 1000
    record("import_window_ms", round(worst))
    assert worst < COMMIT_WINDOW * 1000 + 1000, windows  # generous: a loaded machine

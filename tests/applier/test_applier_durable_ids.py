"""Job ids are on disk before their step goes on: the applier groups the state writes of
job ids returned within `COMMIT_WINDOW` (`Recorder.durable()`), yet a job is never polled
before its id is recorded, and a state write that fails fails the step with a clear error.

The fake Workato in front of the simulator (a wrapping httpx transport) reads the state
file at the moment of each status poll; no timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.applier.recorder import Recorder
from reconciler.applier.session import COMMIT_WINDOW, apply_plan
from reconciler.cli.connect import SIM_BASE_URL
from reconciler.cli.workflow import load_inputs, refresh_and_plan
from reconciler.errors import StateError
from reconciler.report import ApplyReport
from reconciler.simulator.transport import SimTransport
from reconciler.state.encode import Changes
from reconciler.state.model import ImportRecord, State
from reconciler.state.store import StateStore
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.limits import QuotaLimiters
from tests.e2e.apply_fixtures import World

STATUS = re.compile(r"/(imports|exports)/(\d+)$")


def _recorded_ids(state_path: Path) -> dict[str, set[int]]:
    """Import and package ids anywhere in the state file on disk."""
    found: dict[str, set[int]] = {"imports": set(), "exports": set()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "import_id" in node:
                found["imports"].add(int(node["import_id"]))
            elif "package_id" in node and "manifest_id" in node:
                found["exports"].add(int(node["package_id"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    if state_path.exists():
        walk(json.loads(state_path.read_text()))
    return found


class Workato(httpx.AsyncBaseTransport):
    """The simulator, plus a look at the state file whenever a job's status is asked."""

    def __init__(self, sim_dir: Path, state_path: Path) -> None:
        self.inner = SimTransport(sim_dir)
        self.state_path = state_path
        self.polls: list[tuple[str, int, bool]] = []  # (kind, job id, on disk then)
        self.on_first_import: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        found = STATUS.search(request.url.path)
        if request.method == "GET" and found:
            kind, job = found[1], int(found[2])
            self.polls.append((kind, job, job in _recorded_ids(self.state_path)[kind]))
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and "/imports" in request.url.path and self.on_first_import:
            hook, self.on_first_import = self.on_first_import, None
            hook()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(autouse=True)
def _own_quota_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.workato import limits

    monkeypatch.setattr(limits, "_REGISTRY", {})


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = World(tmp_path / "w", customers=6)
    world.generic_fleet(6, waves=["main"], max_parallel=6)
    return world


def _apply(world: World, workato: Workato, state_path: Path) -> ApplyReport:
    inputs = load_inputs(world.config, state_path)
    rates = inputs.desired.workspaces["partner"].rate_limits
    settings = ClientSettings(
        base_url=SIM_BASE_URL,
        token="demo-token",
        rate_limits=rates,
        poll=inputs.desired.workspaces["partner"].poll,
        limiters=QuotaLimiters.from_rates(rates),
    )

    async def go() -> ApplyReport:
        async with WorkatoClient(settings, transport=workato) as client:
            clients = {"partner": client}
            plan, _, _ = await refresh_and_plan(inputs, clients)
            return await apply_plan(inputs, clients, plan)

    return asyncio.run(go())


def test_every_job_id_is_on_disk_before_its_first_status_poll(world: World) -> None:
    state_path = world.root / "state" / "rlcm.state.json"
    state_path.parent.mkdir()
    workato = Workato(world.sim_dir, state_path)

    report = _apply(world, workato, state_path)

    assert all(s.status == "succeeded" for s in report.steps), report.steps
    polled = {(kind, job) for kind, job, _ in workato.polls}
    assert len({job for kind, job in polled if kind == "imports"}) == 18  # 6 targets x 3
    assert len({job for kind, job in polled if kind == "exports"}) == 3
    late = [(kind, job) for kind, job, on_disk in workato.polls if not on_disk]
    assert late == []


def test_job_ids_saved_together_share_one_state_write(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "rlcm.state.json")
    state = store.read()
    store.write(state)
    serial = state.serial
    recorder = Recorder(store, state, batch_window=0.2, commit_window=COMMIT_WINDOW)

    async def start_ten() -> None:
        for i in range(10):
            recorder.import_saved(_record(i))
        assert _recorded_ids(store.path)["imports"] == set()  # not yet written ...
        await recorder.durable()  # ... but before any step may go on

    asyncio.run(start_ten())
    assert _recorded_ids(store.path)["imports"] == set(range(1000, 1010))
    assert store.read().serial == serial + 1


class _SlowWrites(StateStore):
    """The state file, each write taking a second longer (a fleet's state on a slow disk)."""

    def write(self, state: State, changed: Changes | None = None) -> None:
        super().write(state, changed)
        time.sleep(1.0)


def test_a_job_id_after_a_quiet_spell_is_written_at_once_and_later_ones_share_a_write(
    tmp_path: Path,
) -> None:
    # a step never waits out the commit window for nothing: the first id is written in
    # the same turn of the event loop; ids saved soon after that write wait (COMMIT_SHARE
    # times its duration, at most the window) and share one write
    store = _SlowWrites(tmp_path / "rlcm.state.json")
    state = store.read()
    StateStore(store.path).write(state)
    serial = state.serial
    recorder = Recorder(store, state, commit_window=3600.0)

    async def steps() -> tuple[bool, bool]:
        recorder.import_saved(_record(1))
        await asyncio.wait_for(recorder.durable(), timeout=30)  # not an hour
        first = _recorded_ids(store.path)["imports"] == {1001}
        recorder.import_saved(_record(2))
        await asyncio.sleep(0.05)
        recorder.import_saved(_record(3))
        await asyncio.sleep(0.05)
        waited = _recorded_ids(store.path)["imports"] == {1001}  # 2 and 3 wait ...
        recorder.flush()  # ... for the window's end, or the end of the run
        return first, waited

    first, waited = asyncio.run(steps())
    assert first and waited
    assert _recorded_ids(store.path)["imports"] == {1001, 1002, 1003}
    assert store.read().serial == serial + 2


@pytest.mark.parametrize("how", ["replaced", "immutable"])
def test_a_failed_job_id_write_raises_to_every_step_that_awaits_it(
    tmp_path: Path, how: str
) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    store = StateStore(directory / "rlcm.state.json")
    state = store.read()
    store.write(state)
    recorder = Recorder(store, state, commit_window=COMMIT_WINDOW)

    async def two_steps() -> list[BaseException | None]:
        async def step(i: int) -> None:
            recorder.import_saved(_record(i))
            await recorder.durable()

        if how == "replaced":
            _make_unwritable(directory)
        else:
            _make_immutable(directory)
        results = await asyncio.gather(step(1), step(2), return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]

    try:
        errors = asyncio.run(two_steps())
    finally:
        if how == "immutable":
            subprocess.run(["chattr", "-i", str(directory)], check=False)
    assert all(isinstance(e, StateError) for e in errors), errors
    assert all("state file" in str(e) for e in errors), errors


def test_a_state_dir_that_becomes_unwritable_fails_the_import_step(world: World) -> None:
    directory = world.root / "state"
    directory.mkdir()
    state_path = directory / "rlcm.state.json"
    workato = Workato(world.sim_dir, state_path)
    workato.on_first_import = lambda: _make_unwritable(directory)

    report = _apply(world, workato, state_path)

    imports = [s for s in report.steps if s.kind == "import"]
    failed = [s for s in imports if s.status == "failed"]
    assert failed, imports
    # the import whose job id could not be recorded fails, naming the state file
    assert all(f"state file {state_path}" in (s.message or "") for s in failed), failed
    # ... and nothing more starts: what depends on it is skipped, every other import is
    # interrupted naming the state file (its job id could not be recorded either)
    assert all(s.status in ("failed", "skipped", "interrupted") for s in imports), imports
    stopped = [s for s in imports if s.status == "interrupted"]
    assert all(
        (s.message or "").startswith("apply stopped: ")
        and f"state file {state_path}" in (s.message or "")
        for s in stopped
    ), [s.message for s in stopped]


def _record(i: int) -> ImportRecord:
    return ImportRecord(
        manifest="crm-sync",
        target=f"t{i}",
        import_id=1000 + i,
        package_id=7,
        package_digest="sha256:x",
        status="in_progress",
    )


def _make_unwritable(directory: Path) -> None:
    """The state's directory is replaced by a file: no temp file can be created in it, not
    even by root (for whom permission bits mean nothing)."""
    shutil.move(directory, directory.with_name(directory.name + ".gone"))
    directory.write_text("not a directory\n")


def _make_immutable(directory: Path) -> None:
    """`chattr +i`: nothing may be created in the directory, not even by root."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    done = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not permitted here: {done.stderr.strip()!r}")


def test_a_failed_state_write_stops_new_work_at_once_and_says_what_to_do(tmp_path: Path) -> None:
    """Like a 401: once a state write fails, nothing new starts (each import sent then
    would be sent again by the next apply); the reason says how to continue."""
    world = World(tmp_path / "w", customers=4)
    world.generic_fleet(4, waves=["main"], max_parallel=2)
    directory = world.root / "state"
    directory.mkdir()
    state_path = directory / "rlcm.state.json"
    workato = Workato(world.sim_dir, state_path)
    workato.on_first_import = lambda: _make_unwritable(directory)

    report = _apply(world, workato, state_path)

    posts = [r for r in world.sim.request_log() if r.kind == "import"]
    assert len(posts) <= 2, posts  # the imports in flight when the write failed, no more
    imports = [s for s in report.steps if s.kind == "import"]
    assert sum(s.status == "interrupted" for s in imports) >= len(imports) - 2, imports
    stopped = [s for s in imports if s.status == "interrupted"]
    assert all(
        "apply stopped: cannot " in str(s.message) and "state file" in str(s.message)
        for s in stopped
    ), [s.message for s in stopped]
    assert all("then run `rlcm apply` again" in str(s.message) for s in stopped), stopped
    assert report.interrupted and report.exit_code != 0

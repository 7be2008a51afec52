"""The client's quota limiter against the simulator's enforced quotas.

Both run on simulated time: the simulator at `time_scale` 120 (a one-minute window lasts
half a real second) and the client's limiter on a clock scaled the same way. The
client's window length is fixed by its quota model (requests per minute), so scaling
time, not rates, is what keeps the two comparable. The client knows exactly the quotas
the simulator enforces. Its margin for the time between reserving a slot and the server
counting the request is set for the simulator rather than scaled: 30 simulated seconds
(250 ms real), since a loaded test machine queues requests far longer than 1/120 of
Workato's network jitter (the real 1 s margin would shrink to 8 ms).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from roundtrip_world import POLL, TOKEN, UNLIMITED, World, run

from reconciler.cli.connect import SIM_BASE_URL, open_client
from reconciler.config.desired import RateLimits, WorkspaceSpec
from reconciler.errors import RateLimitedError
from reconciler.simulator import Simulator
from reconciler.simulator.seed import CUSTOMERS
from reconciler.simulator.serve import running_server
from reconciler.simulator.transport import SimTransport
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.limits import QuotaLimiters, SlidingWindowLimiter
from reconciler.workato.models import ImportJob, ManifestBody

SCALE = 120.0
QUOTA = {"imports": 8, "import_status": 16, "other": 8, "dev_imports": 8}  # per minute
BURST = 20  # three windows' worth of imports


def scaled_clock() -> float:
    return time.monotonic() * SCALE


async def scaled_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds / SCALE)


def _limiters(limiter: Callable[[int], SlidingWindowLimiter]) -> QuotaLimiters:
    q = QUOTA
    return QuotaLimiters(
        imports=limiter(q["imports"]),
        import_status=limiter(q["import_status"]),
        dev_imports=limiter(q["dev_imports"]),
        other=limiter(q["other"]),
    )


def scaled_limiters() -> QuotaLimiters:
    def limiter(limit: int) -> SlidingWindowLimiter:
        return SlidingWindowLimiter(
            limit, 60.0, clock=scaled_clock, sleep=scaled_sleep, margin=30.0
        )

    return _limiters(limiter)


def make_client(world: World, limiters: QuotaLimiters | None) -> WorkatoClient:
    in_process = world.mode == "sim"
    unpaced = dataclasses.replace(UNLIMITED, time_scale=SCALE)
    settings = ClientSettings(
        base_url=SIM_BASE_URL if in_process else world.base_url,
        token=TOKEN,
        # time_scale: the simulator's Retry-After is in simulated seconds
        rate_limits=unpaced,
        # without our limiters: a belief far above the simulator's quota, on its time scale
        limiters=limiters or QuotaLimiters.from_rates(unpaced),
        poll=POLL,
    )
    transport = SimTransport(world.sim.directory) if in_process else None
    return WorkatoClient(settings, transport=transport)


async def burst(client: WorkatoClient) -> list[ImportJob]:
    """One package, imported into BURST customer folders at once, each polled to the end."""
    manifest = await client.create_manifest(
        "E-template", ManifestBody(name="billing", folder_id=114, auto_generate_assets=True)
    )
    done = await client.wait_export(
        "E-template", (await client.start_export("E-template", manifest.id)).id
    )
    blob = await client.download_package("E-template", done)

    async def one(index: int) -> ImportJob:
        ref, _, folder, _ = CUSTOMERS[index % len(CUSTOMERS)]
        job = await client.start_import(
            ref, folder, blob, restart_recipes=True, include_tags=False,
            folder_id_for_home_assets=None,
        )  # fmt: skip
        return await client.wait_import(ref, job.id)

    return await asyncio.gather(*(one(i) for i in range(BURST)))


@pytest.fixture
def quota_world(world: World) -> World:
    world.sim.set_time_scale(SCALE)
    world.sim.set_rate_limits(
        enabled=True, retry_after=True, imports=8, import_status=16, other=8, dev_imports=8
    )
    world.sim.set_job_timing(duration=3600, polls=1)  # jobs finish on their first poll
    return world


def test_a_burst_of_imports_within_the_quotas_gets_no_429(quota_world: World) -> None:
    client = make_client(quota_world, scaled_limiters())

    async def go() -> list[ImportJob]:
        async with client:
            return await burst(client)

    jobs = run(go())
    assert all(job.succeeded for job in jobs) and len(jobs) == BURST
    log = quota_world.sim.request_log()
    assert [r for r in log if r.status == 429] == []
    assert client.stats.rate_limited == 0
    assert sum(1 for r in log if r.kind == "import") == BURST
    assert client.stats.limiter_wait > 0  # the limiter, not luck, kept it under the quota


def test_without_the_limiter_the_simulator_enforces_its_quota(sim: Simulator) -> None:
    """The control (in process): the same burst unpaced meets 429s, which the client retries."""
    world = World(sim, f"sim://{sim.directory}", "sim")
    world.sim.set_time_scale(SCALE)
    world.sim.set_rate_limits(
        enabled=True, retry_after=True, imports=8, import_status=16, other=8, dev_imports=8
    )
    world.sim.set_job_timing(duration=3600, polls=1)
    client = make_client(world, None)

    async def go() -> list[ImportJob]:
        async with client:
            return await burst(client)

    jobs = run(go())
    assert all(job.succeeded for job in jobs)
    log = world.sim.request_log()
    assert client.stats.rate_limited > 0
    assert sum(1 for r in log if r.status == 429) == client.stats.rate_limited
    # a refused import did nothing: each customer folder got the package once per import
    assert sum(1 for r in log if r.kind == "import" and r.status == 200) == BURST


def test_each_simulator_directory_has_quotas_of_its_own(tmp_path: Path, seeded: Path) -> None:
    """Every sim://DIR is served as one base URL; the client must not pool their quotas."""
    dirs = [tmp_path / "a", tmp_path / "b"]
    for directory in dirs:
        shutil.copytree(seeded, directory)
    strict = RateLimits(other=1)  # one call a minute: a second call would wait a minute
    first = WorkspaceSpec(name="a", base_url=f"sim://{dirs[0]}", rate_limits=strict)
    second = WorkspaceSpec(name="b", base_url=f"sim://{dirs[1]}", rate_limits=UNLIMITED)

    async def go() -> None:
        async with open_client(first) as client:
            await client.folder_assets("E-template", 110)
        async with open_client(second) as client:
            for _ in range(3):
                await client.folder_assets("E-template", 110)

    run(asyncio.wait_for(go(), timeout=10))
    assert Simulator(dirs[1]).request_counts() == {"folder_assets": 3}


def test_a_busy_event_loop_does_not_squeeze_calls_into_the_servers_window(sim: Simulator) -> None:
    """Over real HTTP, with the event loop blocked 40 ms at a time (as a large state write
    does): the way from the limiter to the socket passes several turns of the loop, so a
    start taken when the limiter wakes the caller would reach the server hundreds of ms
    later and bunch into the next window. The start is taken as the headers leave."""
    sim.set_time_scale(SCALE)
    sim.set_rate_limits(retry_after=True, other=8)
    margin = 12.0  # simulated seconds: 100 ms real, more than one blocked turn of the loop

    def limiter(limit: int) -> SlidingWindowLimiter:
        return SlidingWindowLimiter(
            limit, 60.0, clock=scaled_clock, sleep=scaled_sleep, margin=margin
        )

    limiters = _limiters(limiter)
    with running_server(sim.directory) as url:
        client = make_client(World(sim, url, "http"), limiters)

        async def go() -> None:
            done = asyncio.Event()

            async def hog() -> None:
                while not done.is_set():
                    time.sleep(0.04)  # blocks the loop, as synchronous work does
                    await asyncio.sleep(0)

            hogging = asyncio.create_task(hog())
            async with client:
                await asyncio.gather(*(client.folder_assets("E-template", 110) for _ in range(24)))
            done.set()
            await hogging

        run(go())
    log = sim.request_log()
    assert [r.status for r in log if r.status == 429] == []
    assert client.stats.rate_limited == 0
    assert sum(1 for r in log if r.kind == "folder_assets") == 24
    assert client.stats.limiter_wait > 0  # three windows' worth: the limiter paced them


def test_two_in_process_clients_of_one_simulator_spend_one_quota(sim: Simulator) -> None:
    """Like two clients of one real workspace: the simulator counts their calls together,
    whichever transport each came through."""
    sim.set_rate_limits(retry_after=True, other=3)  # a one-minute window: no timing matters
    settings = ClientSettings(
        base_url=SIM_BASE_URL,
        token=TOKEN,
        # no waiting on a 429: the Retry-After (up to a minute) is beyond the budget
        rate_limits=dataclasses.replace(UNLIMITED, max_wait=1.0),
        limiters=QuotaLimiters.from_rates(UNLIMITED),  # rlcm does not pace them: the test
        max_retries=0,
    )
    first, second = (WorkatoClient(settings, transport=SimTransport(sim.directory)) for _ in "ab")

    async def go() -> list[BaseException | None]:
        async with first, second:
            calls = [first.folder_assets("E-template", 110) for _ in range(2)]
            calls += [second.folder_assets("E-template", 110) for _ in range(2)]
            results = await asyncio.gather(*calls, return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]

    errors = [e for e in run(go()) if e is not None]
    assert [type(e) for e in errors] == [RateLimitedError]  # the fourth call of three
    assert [r.status for r in sim.request_log()].count(429) == 1

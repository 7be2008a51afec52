"""A fuzz of 1,000 byte-flipped packages: every one is accepted or refused cleanly.

Each case flips 1-4 bytes of the package the simulator exports for crm-sync. Every case
goes through `inspect_package` (a PackageInfo or a PackageError, nothing else); a share
of them through the applier's runner, an export and the import that waits for it, with
a per-case timeout (a hang fails the case); and a sample through the whole `rlcm apply`,
which must end with a clear error or success, leave the lock released and state valid.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hardening_world import World, check_result, make_world, record

from reconciler.applier.session import apply_plan
from reconciler.cli.workflow import load_inputs, open_clients
from reconciler.content.package import inspect_package
from reconciler.errors import PackageError
from reconciler.plan import Change, Plan
from reconciler.render.plan_json import load_plan

CASES = int(os.environ.get("RLCM_FUZZ_CASES", "1000"))
RUNNER_EVERY = 20  # one case in 20 also runs through the runner
APPLY_SAMPLE = 6  # cases that also run a whole `rlcm apply`
CASE_TIMEOUT = 20.0


def _flipped(base: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    blob = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        blob[rng.randrange(len(blob))] = rng.randrange(256)
    return bytes(blob)


@dataclasses.dataclass
class Fuzz:
    world: World
    base: bytes  # the real crm-sync package
    export: Change  # export.crm-sync, of the recorded manifest
    imports: Change  # import.crm-sync@acme, waiting for that export


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    world = make_world(tmp_path_factory.mktemp("fuzz"))
    world.sim.set_job_timing(duration=0)  # jobs done at once: the cases wait for nothing
    planned = world.root / "plan.json"
    assert world.run("plan", f"--out={planned}").exit_code == 0
    plan = load_plan(planned.read_text())
    assert world.run("apply", "--auto-approve").exit_code == 0
    state = world.state()
    export = plan.by_address()["export.crm-sync"]
    export = dataclasses.replace(
        export, data={**export.data, "manifest_id": state.manifests["crm-sync"].id}
    )
    imports = plan.by_address()["import.crm-sync@acme"]
    base = world.sim.package_zip(state.packages["crm-sync"].package_id)
    assert base is not None
    yield Fuzz(world, base, export, imports)


def test_every_flipped_package_is_inspected_to_an_answer_or_a_package_error(fuzz: Fuzz) -> None:
    refused = 0
    for seed in range(CASES):
        try:
            inspect_package(_flipped(fuzz.base, seed), where=f"case {seed}")
        except PackageError as exc:
            assert str(exc).startswith(f"case {seed}"), exc
            assert "\n" not in str(exc)
            refused += 1
    record("fuzz_packages", CASES)
    record("fuzz_refused", refused)
    assert 0 < refused < CASES


async def _run_case(fuzz: Fuzz, blob: bytes) -> tuple[str, str]:
    """Export and import through the runner; the two outcomes' statuses."""
    world = fuzz.world
    world.sim.serve_package("crm-sync", blob)
    inputs = load_inputs(world.config, world.state_path)
    plan = Plan(
        changes=(fuzz.export, fuzz.imports),
        waves=("default",),
        state_serial=inputs.state.serial,
        state_lineage="",
        live_fingerprint="",
        config_digest="",
        refreshed_targets=False,
    )
    async with open_clients(inputs.desired) as clients:
        report = await asyncio.wait_for(apply_plan(inputs, clients, plan), CASE_TIMEOUT)
    by_address = {s.address: s for s in report.steps}
    export = by_address["export.crm-sync"]
    if export.status == "failed":
        assert "package" in str(export.message) and "\n" not in str(export.message)
    return export.status, by_address["import.crm-sync@acme"].effective_status


def test_every_flipped_package_ends_its_export_and_the_import_waiting_for_it(
    fuzz: Fuzz, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fuzz.world.env.items():
        monkeypatch.setenv(name, value)
    ended = 0
    for seed in range(0, CASES, RUNNER_EVERY):
        blob = _flipped(fuzz.base, seed)
        try:
            inspect_package(blob)
            accepted = True
        except PackageError:
            accepted = False
        export, imported = asyncio.run(_run_case(fuzz, blob))
        assert export == ("succeeded" if accepted else "failed"), seed
        if not accepted:
            assert imported == "skipped", seed
        ended += 1
    fuzz.world.sim.serve_package("crm-sync", None)
    record("fuzz_runs_ended", ended)


def _lock(world: World) -> Path:
    return world.state_path.with_name(world.state_path.name + ".lock")


@pytest.mark.parametrize("seed", range(1, CASES, max(1, CASES // APPLY_SAMPLE))[:APPLY_SAMPLE])
def test_an_apply_of_a_flipped_package_ends_cleanly_with_the_lock_released(
    fuzz: Fuzz, tmp_path: Path, seed: int
) -> None:
    world = make_world(tmp_path)
    world.sim.serve_package("crm-sync", _flipped(fuzz.base, seed))
    done = world.run_process("apply", "--auto-approve", timeout=60)
    assert done.returncode in (0, 1, 3), done.stderr
    assert "Traceback" not in done.stderr
    if done.returncode:
        assert any(" failed (" in ln or ln.startswith("Error: ") for ln in done.stderr.splitlines())
    assert not _lock(world).exists()
    world.state()  # parses and validates
    check_result(world, world.run("state", "list"))
    record("fuzz_applies", 1)

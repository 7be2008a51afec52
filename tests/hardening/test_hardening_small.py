"""The small ones of the second hardening round, each as a user meets it."""

from __future__ import annotations

import asyncio
import io
import json
import warnings
import zipfile

import httpx
import pytest
from hardening_world import World, check_result, record

from reconciler.config.desired import PollSettings
from reconciler.content.package import inspect_package
from reconciler.errors import PackageError, RateLimitedError, ServerError, StateError
from reconciler.state.store import StateStore
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.limits import QuotaLimiters

RECIPE = "CRM sync/sync_accounts.recipe.json"
BODY = b'{"name": "Sync accounts", "version": 4}'


def test_an_at_sign_in_a_manifest_name_is_refused(world: World) -> None:
    text = (world.config / "manifests.yaml").read_text()
    (world.config / "manifests.yaml").write_text(text.replace("name: crm-sync", "name: crm@sync"))
    (world.config / "targets.yaml").write_text(
        (world.config / "targets.yaml").read_text().replace("crm-sync", "crm@sync")
    )
    result = world.run("validate")
    assert result.exit_code == 1
    assert "manifests.yaml:" in result.stderr and "without @" in result.stderr


def _client(handler: httpx.MockTransport, slept: list[float]) -> WorkatoClient:
    now = [1000.0]  # fake time for the client and its quota buckets (a 429 waits there)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    rates = ClientSettings(base_url="x", token="t").rate_limits
    settings = ClientSettings(
        base_url="https://www.workato.com",
        token="t0k",
        limiters=QuotaLimiters.from_rates(rates, clock=lambda: now[0], sleep=sleep),
        poll=PollSettings(interval=0.01, max_interval=0.01, timeout=5),
        clock=lambda: now[0],
        sleep=sleep,
        rand=lambda: 0.5,
    )
    return WorkatoClient(settings, transport=handler)


def _answers(*replies: httpx.Response) -> httpx.MockTransport:
    queue = list(replies)
    return httpx.MockTransport(lambda request: queue.pop(0) if len(queue) > 1 else queue[0])


def test_a_negative_retry_after_backs_off_instead_of_not_waiting() -> None:
    slept: list[float] = []
    too_many = httpx.Response(429, headers={"retry-after": "-5"}, json={"message": "slow"})
    ok = httpx.Response(200, json={"result": {"id": 7, "status": "completed"}})

    async def go() -> None:
        async with _client(_answers(too_many, ok), slept) as client:
            await client.export_status("E-x", 7)

    asyncio.run(go())
    assert len(slept) == 1 and slept[0] > 0


def test_a_retry_after_of_a_day_is_waited_out_capped_once_then_fails_saying_so() -> None:
    slept: list[float] = []
    unavailable = httpx.Response(503, headers={"retry-after": "86400"}, json={"message": "down"})

    async def go() -> None:
        async with _client(_answers(unavailable), slept) as client:
            await client.export_status("E-x", 7)

    with pytest.raises(ServerError, match=r"asks to wait 86400 s before retrying"):
        asyncio.run(go())
    assert slept == [300.0]  # retry_after_max, once (it used to be 300 s x 5)


def test_a_429_asking_for_more_than_the_wait_budget_fails_at_once_saying_so() -> None:
    slept: list[float] = []
    too_many = httpx.Response(429, headers={"retry-after": "86400"}, json={"message": "slow"})

    async def go() -> None:
        async with _client(_answers(too_many), slept) as client:
            await client.export_status("E-x", 7)

    # a day's quota spent: waiting out the budget (rate_limits.max_wait, 7,200 s) first
    # would change nothing
    with pytest.raises(RateLimitedError, match=r"asks to wait 86400 s .*max_wait: 7200 s"):
        asyncio.run(go())
    assert slept == []


def test_an_unreadable_export_status_answer_is_polled_again(world: World) -> None:
    record("faults_tried")
    world.sim.inject_fault("export_status", "malformed_json")
    result = world.run("apply", "--auto-approve")
    check_result(world, result)
    assert result.exit_code == 0, result.output
    record("faults_handled")


@pytest.mark.parametrize("pasted", ["cnry_tok_5d1f0b7e9a2c", "5d1f0b7e9a2c4486", "abcDEF123"])
def test_a_token_pasted_as_token_env_is_never_echoed(world: World, pasted: str) -> None:
    path = world.config / "workspace.yaml"
    path.write_text(path.read_text().replace("RLCM_HARDENING_TOKEN", pasted))
    result = world.run("plan")
    assert result.exit_code == 1
    assert pasted not in result.output
    assert "pasted token" in result.stderr or "pasted secret" in result.stderr


def test_a_conventional_variable_name_is_still_named(world: World) -> None:
    path = world.config / "workspace.yaml"
    path.write_text(path.read_text().replace("RLCM_HARDENING_TOKEN", "WORKATO_PARTNER_TOKEN"))
    result = world.run("plan")
    assert "environment variable WORKATO_PARTNER_TOKEN is not set" in result.stderr


def test_a_state_with_two_names_for_one_manifest_id_is_refused(world: World) -> None:
    assert world.run("apply", "--auto-approve").exit_code == 0
    data = json.loads(world.state_path.read_text())
    data["manifests"]["crm-sync"]["id"] = data["manifests"]["shared-connections"]["id"]
    world.state_path.write_text(json.dumps(data))
    with pytest.raises(StateError, match="record the same manifest id"):
        StateStore(world.state_path).read()


def test_format_version_true_is_refused(world: World) -> None:
    assert world.run("apply", "--auto-approve").exit_code == 0
    data = json.loads(world.state_path.read_text())
    data["format_version"] = True
    world.state_path.write_text(json.dumps(data))
    with pytest.raises(StateError, match="unknown format_version True"):
        StateStore(world.state_path).read()


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def duplicate_entries() -> bytes:
    with warnings.catch_warnings():  # zipfile warns of the duplicate it is asked to write
        warnings.simplefilter("ignore", UserWarning)
        return _zip([(RECIPE, BODY), (RECIPE, b'{"name": "Sync accounts", "version": 5}')])


def nul_in_name() -> bytes:
    blob = _zip([("CRM sync/sync_accountsX.recipe.json", BODY)])
    return blob.replace(b"sync_accountsX", b"sync_accounts\0")


@pytest.mark.parametrize(
    ("make", "why"), [(duplicate_entries, "appears twice"), (nul_in_name, "NUL")]
)
def test_zips_with_ambiguous_entry_names_are_refused(world: World, make: object, why: str) -> None:
    assert callable(make)
    blob = make()
    with pytest.raises(PackageError, match=why):
        inspect_package(blob)
    record("hostile_tried")
    world.sim.serve_package("crm-sync", blob)
    result = world.run("apply", "--auto-approve")
    assert result.exit_code in (1, 3)
    assert "export.crm-sync failed (" in result.stderr and why in result.stderr
    assert "crm-sync@acme" not in world.state().imports
    record("hostile_handled")

"""Retries, Retry-After, error mapping and polling, against fake Workato servers.

Each handler plays the server (httpx.MockTransport); time is a fake clock, so backoff
and polling cost nothing and waits can be asserted exactly.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.config.desired import PollSettings, RateLimits
from reconciler.errors import (
    ApiTimeoutError,
    AuthError,
    ConnectionFailedError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from reconciler.workato.client import WorkatoClient
from reconciler.workato.models import ManifestBody

MakeClient = Callable[..., WorkatoClient]
VIEW = {"id": 7, "name": "crm-sync", "status": "working"}
BODY = ManifestBody(name="crm-sync", folder_id=112, auto_generate_assets=True)


def scripted(
    *answers: httpx.Response | Exception,
) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    """A server answering each request with the next answer (a Response or an exception)."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _view(client: WorkatoClient) -> Any:
    async with client:
        return await client.view_manifest("E-template", 7)


# ---- retries ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504, 500])
def test_reads_recover_from_transient_answers(make_client: MakeClient, status: int) -> None:
    handler, seen = scripted(httpx.Response(status), httpx.Response(200, json={"result": VIEW}))
    client = make_client(handler)
    assert run(_view(client)).id == 7
    assert len(seen) == 2
    assert client.stats.total_retries == 1
    assert client.stats.rate_limited == (1 if status == 429 else 0)


def test_reads_recover_from_dropped_connections(make_client: MakeClient) -> None:
    handler, seen = scripted(
        httpx.ReadError("connection reset"), httpx.Response(200, json={"result": VIEW})
    )
    assert run(_view(make_client(handler))).id == 7
    assert len(seen) == 2


def test_backoff_grows_exponentially(make_client: MakeClient, fake_time: Any) -> None:
    handler, seen = scripted(httpx.Response(503))
    client = make_client(handler, max_retries=3, backoff_base=1.0)
    with pytest.raises(ServerError) as failed:
        run(_view(client))
    assert len(seen) == 4
    # equal jitter with rand=0.5: three quarters of 1, 2, 4 seconds
    assert fake_time.sleeps == [0.75, 1.5, 3.0]
    assert "GET /api/managed_users/E-template/export_manifests/7 (503)" in str(failed.value)


def test_retry_after_seconds_is_honoured(make_client: MakeClient, fake_time: Any) -> None:
    handler, _ = scripted(
        httpx.Response(429, headers={"Retry-After": "17"}), httpx.Response(200, json=VIEW)
    )
    run(_view(make_client(handler)))
    assert fake_time.sleeps == [17.0]


def test_retry_after_http_date_is_honoured(make_client: MakeClient, fake_time: Any) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    handler, _ = scripted(
        httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200, json=VIEW)
    )
    run(_view(make_client(handler)))
    assert len(fake_time.sleeps) == 1 and 27 <= fake_time.sleeps[0] <= 30


def test_a_429_is_waited_on_within_the_budget_then_fails(
    make_client: MakeClient, fake_time: Any
) -> None:
    handler, seen = scripted(httpx.Response(429, json={"message": "Too many requests"}))
    rates = RateLimits(other=10_000, imports=10_000, max_wait=600)
    client = make_client(handler, max_retries=2, rate_limits=rates)
    started = fake_time.now
    with pytest.raises(RateLimitedError, match="Too many requests"):
        run(_view(client))
    # a 429 is "wait", not a failed attempt: far more than max_retries tries, ...
    assert len(seen) > 3 and client.stats.rate_limited == len(seen)
    # ... backing off (doubling, then probing once a window) until the budget is spent
    assert fake_time.now - started <= 600
    assert sorted(fake_time.sleeps)[-1] == pytest.approx(60.0, abs=1.0)


def test_create_manifest_is_not_repeated_once_it_may_have_arrived(make_client: MakeClient) -> None:
    for answer in (httpx.Response(502), httpx.Response(500), httpx.ReadTimeout("slow")):
        handler, seen = scripted(answer, httpx.Response(201, json={"result": VIEW}))

        async def create(client: WorkatoClient) -> Any:
            async with client:
                return await client.create_manifest("E-template", BODY)

        with pytest.raises((ServerError, ApiTimeoutError)):
            run(create(make_client(handler)))
        assert len(seen) == 1, answer


def test_create_manifest_retries_when_the_server_certainly_did_nothing(
    make_client: MakeClient,
) -> None:
    handler, seen = scripted(
        httpx.ConnectError("refused"),
        httpx.Response(429),
        httpx.Response(201, json={"result": VIEW}),
    )

    async def create(client: WorkatoClient) -> Any:
        async with client:
            return await client.create_manifest("E-template", BODY)

    assert run(create(make_client(handler))).id == 7  # 201 Created is success too
    assert len(seen) == 3
    assert seen[-1].headers["content-type"] == "application/json"


def _import(client: WorkatoClient) -> Any:
    async def go() -> Any:
        async with client:
            return await client.start_import(
                "E-acme-001", 1827, b"PK..", restart_recipes=True, include_tags=False,
                folder_id_for_home_assets=1830,
            )  # fmt: skip

    return run(go())


def test_import_is_retried_only_when_refused(make_client: MakeClient) -> None:
    done = httpx.Response(200, json={"id": 5, "status": "in_progress"})
    handler, seen = scripted(httpx.Response(503), httpx.Response(429), done)
    assert _import(make_client(handler)).id == 5
    assert len(seen) == 3
    for answer in (httpx.Response(504), httpx.ReadTimeout("slow")):
        handler, seen = scripted(answer, done)
        with pytest.raises((ServerError, ApiTimeoutError)):
            _import(make_client(handler))
        assert len(seen) == 1


def test_import_sends_the_raw_zip_and_query(make_client: MakeClient) -> None:
    handler, seen = scripted(httpx.Response(200, json={"id": 5, "status": "completed"}))
    _import(make_client(handler))
    request = seen[0]
    assert request.url.path == "/api/managed_users/E-acme-001/imports"
    assert dict(request.url.params) == {
        "folder_id": "1827", "restart_recipes": "true", "include_tags": "false",
        "folder_id_for_home_assets": "1830",
    }  # fmt: skip
    assert request.headers["content-type"] == "application/octet-stream"
    assert request.content == b"PK.."
    assert request.headers["authorization"] == "Bearer secret-token-123"


def test_export_is_retried_after_a_timeout_since_a_duplicate_is_harmless(
    make_client: MakeClient,
) -> None:
    handler, seen = scripted(
        httpx.ReadTimeout("slow"), httpx.Response(200, json={"id": 9, "status": "in_progress"})
    )

    async def go(client: WorkatoClient) -> Any:
        async with client:
            return await client.start_export("E-template", 7)

    assert run(go(make_client(handler))).id == 9
    assert len(seen) == 2


def test_unreachable_server_is_a_connection_error(make_client: MakeClient) -> None:
    handler, seen = scripted(httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(ConnectionFailedError, match="Connection refused"):
        run(_view(make_client(handler, max_retries=2)))
    assert len(seen) == 3


# ---- error mapping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        (httpx.Response(401, json={"message": "Unauthorized"}), AuthError, "(401): Unauthorized"),
        (httpx.Response(403, json={"error": "Forbidden"}), AuthError, "(403): Forbidden"),
        (httpx.Response(404, json={"message": "Not found"}), NotFoundError, "(404): Not found"),
        (httpx.Response(404, text=""), NotFoundError, "(404): empty answer (Not Found)"),
        (
            httpx.Response(
                422, json={"message": "Invalid", "errors": {"folder_id": ["is missing"]}}
            ),
            ValidationError,
            "(422): Invalid [folder_id: is missing]",
        ),
        (
            httpx.Response(400, json={"error": {"message": "bad asset"}}),
            ValidationError,
            "(400): bad asset",
        ),
        (
            httpx.Response(500, headers={"content-type": "text/html"}, text="<html>oops</html>"),
            ServerError,
            "(500): unexpected HTML answer",
        ),
        (
            httpx.Response(302, headers={"location": "/login"}),
            ProtocolError,
            "(302): unexpected redirect",
        ),
    ],
)
def test_errors_carry_the_server_message_and_the_call(
    make_client: MakeClient, answer: httpx.Response, error: type[Exception], text: str
) -> None:
    handler, _ = scripted(answer)
    with pytest.raises(error) as raised:
        run(_view(make_client(handler, max_retries=0)))
    message = str(raised.value)
    assert message == f"GET /api/managed_users/E-template/export_manifests/7 {text}"
    assert "secret-token-123" not in message


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (
            httpx.Response(200, headers={"content-type": "text/html"}, text="<!doctype html>"),
            "unexpected HTML answer",
        ),
        (httpx.Response(200, text="{not json"), "answer is not JSON"),
        (
            httpx.Response(200, json={"result": {"id": "seven", "name": "x"}}),
            "unexpected ManifestView answer: id",
        ),
        (httpx.Response(200, json=["a list"]), "unexpected ManifestView answer"),
    ],
)
def test_malformed_success_answers_are_protocol_errors(
    make_client: MakeClient, answer: httpx.Response, text: str
) -> None:
    handler, _ = scripted(answer)
    with pytest.raises(ProtocolError, match=text) as raised:
        run(_view(make_client(handler)))
    assert "GET /api/managed_users/E-template/export_manifests/7" in str(raised.value)


def test_an_unknown_job_status_is_still_running_with_one_warning(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    # SPEC: a status rlcm does not know is polled on, never taken as failure
    handler, _ = scripted(httpx.Response(200, json={"id": 3, "status": "queued_rlcm_test"}))

    async def go(client: WorkatoClient) -> Any:
        async with client:
            return [await client.export_status("E-template", 3) for _ in range(2)]

    with caplog.at_level("WARNING"):
        jobs = run(go(make_client(handler)))
    assert [job.done for job in jobs] == [False, False]
    warned = [r for r in caplog.records if "queued_rlcm_test" in r.getMessage()]
    assert len(warned) == 1 and "polling on" in warned[0].getMessage()


def test_a_job_status_of_the_wrong_type_is_a_protocol_error(make_client: MakeClient) -> None:
    handler, _ = scripted(httpx.Response(200, json={"id": 3, "status": 12345}))

    async def go(client: WorkatoClient) -> Any:
        async with client:
            return await client.export_status("E-template", 3)

    with pytest.raises(
        ProtocolError, match=r"GET /api/managed_users/E-template/exports/3: .*status"
    ):
        run(go(make_client(handler)))


def test_unknown_asset_types_pass_through_with_one_warning(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    asset = {"id": 1, "name": "Genie", "type": "agentic_genie_rlcm_test", "version": 2}
    handler, seen = scripted(httpx.Response(200, json={"assets": [asset, {**asset, "id": 2}]}))

    async def go(client: WorkatoClient) -> Any:
        async with client:
            first = await client.folder_assets("E-template", 110)
            return first + await client.folder_assets(None, None)

    with caplog.at_level("WARNING"):
        assets = run(go(make_client(handler)))
    assert [a.type for a in assets] == ["agentic_genie_rlcm_test"] * 4
    assert caplog.text.count("agentic_genie_rlcm_test") == 1
    assert seen[0].url.params["folder_id"] == "110"
    assert seen[1].url.path == "/api/export_manifests/folder_assets" and not seen[1].url.params


def test_managed_user_ids_are_url_encoded(make_client: MakeClient) -> None:
    handler, seen = scripted(httpx.Response(200, json=VIEW))

    async def go(client: WorkatoClient) -> None:
        async with client:
            await client.view_manifest("E-acme/001 x", 7)
            await client.view_manifest("91928", 7)

    run(go(make_client(handler)))
    assert seen[0].url.raw_path == b"/api/managed_users/E-acme%2F001%20x/export_manifests/7"
    assert seen[1].url.raw_path == b"/api/managed_users/91928/export_manifests/7"


# ---- polling ------------------------------------------------------------------------


def test_wait_export_polls_with_growing_intervals(make_client: MakeClient, fake_time: Any) -> None:
    pending = httpx.Response(200, json={"id": 365, "status": "in_progress", "download_url": None})
    done = httpx.Response(200, json={"id": 365, "status": "completed", "download_url": "null"})
    handler, seen = scripted(pending, pending, pending, done)
    poll = PollSettings(interval=2.0, max_interval=4.0, timeout=600)

    async def go(client: WorkatoClient) -> Any:
        async with client:
            return await client.wait_export("E-template", 365)

    job = run(go(make_client(handler, poll=poll)))
    assert job.status == "completed" and job.download_url is None
    assert fake_time.sleeps == [2.0, 3.0, 4.0, 4.0]
    assert len(seen) == 4


def test_the_first_status_poll_counts_from_the_answer_to_the_start(
    make_client: MakeClient, fake_time: Any
) -> None:
    # the time between Workato's answer and the poll (the job id's state write) is part
    # of the first interval, not added to it: a 5 s job is seen done at 5 s, not later
    pending = httpx.Response(200, json={"id": 251, "status": "in_progress"})
    done = httpx.Response(200, json={"id": 251, "status": "completed"})
    handler, seen = scripted(pending, done)
    poll = PollSettings(interval=5.0, max_interval=8.0, timeout=600)

    async def go(client: WorkatoClient) -> Any:
        answered = fake_time.clock()
        fake_time.now += 0.75  # writing the job id to state took this long
        async with client:
            return await client.wait_import("E-acme-001", 251, since=answered)

    job = run(go(make_client(handler, poll=poll)))
    assert job.status == "completed"
    assert fake_time.sleeps == [4.25, 7.5]  # then 1.5x the interval after the last poll
    assert len(seen) == 2


def test_wait_import_gives_up_with_a_clear_error(make_client: MakeClient, fake_time: Any) -> None:
    handler, seen = scripted(httpx.Response(200, json={"id": 251, "status": "in_progress"}))
    poll = PollSettings(interval=10.0, max_interval=10.0, timeout=35.0)

    async def go(client: WorkatoClient) -> Any:
        async with client:
            return await client.wait_import("E-acme-001", 251)

    with pytest.raises(
        ApiTimeoutError,
        match=r"^GET /api/managed_users/E-acme-001/imports/251: "
        r"import 251 did not finish within 35 s$",
    ):
        run(go(make_client(handler, poll=poll)))
    assert sum(fake_time.sleeps) == pytest.approx(35.0)
    assert len(seen) == 4

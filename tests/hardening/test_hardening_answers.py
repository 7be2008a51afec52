"""Hypothesis-generated answers for every endpoint of the client, through a MockTransport
playing Workato: each call returns a model or raises an `ApiError` subclass, never anything
else (no KeyError, TypeError, pydantic error, UnicodeDecodeError, zipfile error ...)."""

from __future__ import annotations

import asyncio
import io
import json
import traceback
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hardening_world import record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.desired import RateLimits
from reconciler.errors import ApiError
from reconciler.workato.client import ClientSettings, WorkatoClient
from reconciler.workato.limits import QuotaLimiters
from reconciler.workato.models import ManifestBody, PackageJob

STATUSES = [200, 201, 202, 204, 301, 302, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504]
KINDS = ["application/json", "application/json; charset=utf-8", "text/html", "text/plain", ""]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["completed", "failed", "in_progress", "null", "working", "archived"]),
)
KEYS = st.sampled_from(
    [
        "id", "name", "status", "result", "assets", "recipe_status", "import_result",
        "download_url", "error", "message", "errors", "type", "version", "folder",
        "success", "export_manifest_id", "folder_id", "absolute_path", "zip_name",
    ]
) | st.text(max_size=8)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=25,
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bodies = st.one_of(
    json_values.map(_dumps),
    json_values.map(lambda v: _dumps({"result": v})),
    st.dictionaries(KEYS, json_values, max_size=6).map(lambda d: _dumps({"result": d})),
    st.binary(max_size=200),
    st.just(b""),
    st.just(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"),
    st.just(b'{"result": {"id": 1, "name": "trunc'),
    st.just(b"\xff\xfe\x00{not json"),
    st.integers(min_value=1, max_value=3).map(lambda n: b'{"pad": "' + b"x" * (n << 20) + b'"}'),
)


@st.composite
def answers(draw: st.DrawFn) -> list[tuple[int, dict[str, str], bytes]]:
    """A short sequence of answers (polls and redirects take several)."""
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        status = draw(st.sampled_from(STATUSES))
        headers = {"content-type": draw(st.sampled_from(KINDS))}
        if status in (301, 302) and draw(st.booleans()):
            headers["location"] = draw(
                st.sampled_from(["/x.zip", "http://other.example/p.zip", "", "::bad::", "//"])
            )
        if draw(st.booleans()):
            headers["retry-after"] = draw(st.sampled_from(["0", "-5", "soon", "1e9", ""]))
        out.append((status, headers, draw(bodies)))
    return out


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.recipe.json", '{"name": "a", "version": 1}')
    return buffer.getvalue()


def _client(script: list[tuple[int, dict[str, str], bytes]]) -> WorkatoClient:
    queue = list(script)

    def handler(request: httpx.Request) -> httpx.Response:
        status, headers, body = queue.pop(0) if queue else script[-1]
        return httpx.Response(status, headers=headers, content=body)

    async def no_sleep(_: float) -> None:
        return None

    ticks = iter(range(10**6))
    settings_ = ClientSettings(
        base_url="https://www.workato.com",
        token=TOKEN,
        max_retries=2,
        sleep=no_sleep,
        clock=lambda: float(next(ticks)),
        limiters=QuotaLimiters.from_rates(RATES),
        rate_limits=RATES,
    )
    return WorkatoClient(settings_, transport=httpx.MockTransport(handler))


TOKEN = "hypothesis-canary-token"
# no wait budget: a 429 in a script is refused at once (typed), never waited out in real time
RATES = RateLimits(imports=1e9, import_status=1e9, other=1e9, dev_imports=1e9, max_wait=0.0)
BODY = ManifestBody(name="m", folder_id=1, assets=[{"type": "recipe", "name": "r"}])
JOB = PackageJob.model_validate({"id": 7, "status": "completed", "download_url": "/p/7.zip"})
CALLS: dict[str, Callable[[WorkatoClient], Awaitable[Any]]] = {
    "folder_assets": lambda c: c.folder_assets("E-a", 1),
    "folder_assets_own": lambda c: c.folder_assets(None, 1),
    "manifest_create": lambda c: c.create_manifest("E-a", BODY),
    "manifest_view": lambda c: c.view_manifest("E-a", 5),
    "manifest_update": lambda c: c.update_manifest(None, 5, BODY),
    "manifest_delete": lambda c: c.delete_manifest("E-a", 5),
    "export": lambda c: c.start_export("E-a", 5),
    "export_status": lambda c: c.export_status(None, 7),
    "wait_export": lambda c: c.wait_export("E-a", 7),
    "download": lambda c: c.download_package("E-a", JOB),
    "download_own": lambda c: c.download_package(None, JOB),
    "import": lambda c: c.start_import(
        "E-a", 1, _zip(), restart_recipes=True, include_tags=False, folder_id_for_home_assets=2
    ),
    "import_status": lambda c: c.import_status("E-a", 9),
    "wait_import": lambda c: c.wait_import(None, 9),
}


async def _call(name: str, script: list[tuple[int, dict[str, str], bytes]]) -> None:
    async with _client(script) as client:
        try:
            await CALLS[name](client)
        except ApiError as exc:
            texts = (str(exc), repr(exc), "".join(traceback.format_exception(exc)))
            record("leak_checks")
            assert not any(TOKEN in text for text in texts)
            assert "\n" not in str(exc)  # one line


def _check(name: str, script: list[tuple[int, dict[str, str], bytes]]) -> None:
    record("hostile_tried")
    asyncio.run(_call(name, script))  # anything but ApiError propagates and fails
    record("hostile_handled")


SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(SETTINGS, max_examples=80, derandomize=True)
@given(name=st.sampled_from(sorted(CALLS)), script=answers())
def test_any_answer_gives_a_model_or_a_typed_error(
    name: str, script: list[tuple[int, dict[str, str], bytes]]
) -> None:
    _check(name, script)


@pytest.mark.slow
@settings(SETTINGS, max_examples=1500)
@given(name=st.sampled_from(sorted(CALLS)), script=answers())
def test_many_more_answers_give_a_model_or_a_typed_error(
    name: str, script: list[tuple[int, dict[str, str], bytes]]
) -> None:
    _check(name, script)

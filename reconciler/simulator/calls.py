"""What every route handler gets and raises: the call, its route, API errors.

A leaf of the simulator: api.py and the per-family modules (customers.py, folders.py)
build on it, so the families import no route table and the routes no family.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.simulator.imports import ImportParams
from reconciler.simulator.messages import Reply, Request

if TYPE_CHECKING:
    from reconciler.simulator.store import Store

__all__ = ["ApiError", "Call", "Handler", "Jobs", "Route", "invalid", "not_found"]

Json = dict[str, Any]
Handler = Callable[["Call"], Reply]


class ApiError(Exception):
    """Answered as an error body; the engine turns it into a Reply."""

    def __init__(self, status: int, payload: Json) -> None:
        super().__init__(str(payload))
        self.status = status
        self.payload = payload


def not_found() -> ApiError:
    return ApiError(404, {"message": "Not found"})


def invalid(status: int, field_name: str, message: str) -> ApiError:
    return ApiError(status, {"message": "Validation failed", "errors": {field_name: [message]}})


@dataclass(frozen=True)
class Route:
    family: str  # embedded | developer | assets
    kind: str  # endpoint kind used by faults and counts
    bucket: str | None  # rate-limit bucket
    handler: Handler
    user: str | None = None  # managed user reference from the path, decoded
    args: tuple[str, ...] = ()


class Jobs(Protocol):
    """What the handlers need of the engine (engine.py implements it; api.py does not
    import it, so the routes stay a leaf the engine is built on)."""

    store: Store

    def settle_jobs(self, ws: Json) -> None: ...
    def start_export(self, call: Call, manifest: Json) -> Json: ...
    def start_import(self, call: Call, blob: bytes, params: ImportParams) -> Json: ...
    def poll_job(self, call: Call, job: Json) -> None: ...
    def job_json(self, call: Call, job: Json) -> Json: ...
    def download_url(self, request: Request, job: Json) -> str: ...
    def package_key(self, package_id: int) -> str: ...
    def dialects(self) -> list[str]: ...
    def import_running(self, ws: Json) -> bool: ...


@dataclass
class Call:
    engine: Jobs
    request: Request
    route: Route
    ws: Json = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.route.family == "embedded"

    def json_body(self) -> Json:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise ApiError(400, {"error": "Request body is not valid JSON"}) from exc
        if not isinstance(data, dict):
            raise ApiError(400, {"error": "Request body must be a JSON object"})
        return data

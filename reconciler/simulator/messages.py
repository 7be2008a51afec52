"""The simulator's own request and reply: independent of httpx, ASGI and http.server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply", "Request", "json_reply"]


@dataclass
class Request:
    method: str
    raw_path: str  # still percent-encoded, without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    host: str = "workato.sim"  # the Host the client addressed, with port if any
    scheme: str = "http"
    # when the request reached the server (time.monotonic): quotas count arrivals, as
    # Workato's edge does, not the moment a busy simulator gets round to handling them
    arrived: float | None = None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (latency, slow faults)
    drop: bool = False  # close the connection without an answer


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status,
        json.dumps(payload).encode(),
        {"content-type": "application/json; charset=utf-8", **(headers or {})},
    )

"""Turning HTTP answers into models or typed errors.

Error bodies come in several shapes - `{"message"}`, `{"message", "errors": {field:
[...]}}`, `{"error"}` (a string or an object), HTML from a proxy, or nothing at all - and
are parsed defensively: the error always carries the server's message, the method and
the path, and never a token (every message passes through `redact`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
import pydantic

from reconciler.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from reconciler.redact import redact

__all__ = ["error_for_response", "parse_json", "parse_model"]

M = TypeVar("M", bound=pydantic.BaseModel)

_MAX_TEXT = 200
HTML_ANSWER = "unexpected HTML answer"


def _is_html(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").lower()
    return "html" in kind or response.text.lstrip().startswith("<")


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_TEXT else line[: _MAX_TEXT - 3] + "..."


def _field_errors(raw: Any) -> dict[str, Sequence[str]]:
    if not isinstance(raw, dict):
        return {}
    fields: dict[str, Sequence[str]] = {}
    for key, value in raw.items():
        items = value if isinstance(value, list) else [value]
        fields[str(key)] = [_one_line(str(item)) for item in items]
    return fields


def _json_message(body: Any) -> tuple[str | None, dict[str, Sequence[str]]]:
    if not isinstance(body, dict):
        return None, {}
    message = body.get("message")
    error = body.get("error")
    if not isinstance(message, str) and isinstance(error, dict):
        message = error.get("message")
    elif not isinstance(message, str) and isinstance(error, str):
        message = error
    errors = body.get("errors")
    if isinstance(errors, list) and not message:
        message = "; ".join(str(e) for e in errors)
    return (message if isinstance(message, str) else None), _field_errors(errors)


def _message(response: httpx.Response) -> tuple[str, dict[str, Sequence[str]]]:
    if not response.content.strip():
        return f"empty answer ({response.reason_phrase or 'no reason given'})", {}
    if _is_html(response):
        return HTML_ANSWER, {}
    try:
        body = response.json()
    except ValueError:
        return _one_line(response.text), {}
    message, fields = _json_message(body)
    return message or response.reason_phrase or "no message", fields


def _error_class(status: int) -> type[ApiError]:
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status in (400, 422):
        return ValidationError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    if 300 <= status < 400:
        return ProtocolError  # API calls never redirect; only downloads, handled apart
    return ApiError


def error_for_response(response: httpx.Response, method: str, where: str) -> ApiError:
    """The typed error for a non-2xx answer."""
    message, fields = _message(response)
    if 300 <= response.status_code < 400:
        message = "unexpected redirect"
    cls = _error_class(response.status_code)
    return cls(
        redact(message),
        method=method,
        path=where,
        status=response.status_code,
        field_errors={k: [redact(v) for v in vs] for k, vs in fields.items()},
    )


def parse_json(response: httpx.Response, method: str, where: str) -> Any:
    """The JSON of a 2xx answer, or a ProtocolError naming the call."""
    if _is_html(response):
        raise ProtocolError(HTML_ANSWER, method=method, path=where, status=response.status_code)
    try:
        return json.loads(response.content)
    except ValueError as exc:
        detail = "empty answer" if not response.content.strip() else "answer is not JSON"
        raise ProtocolError(detail, method=method, path=where, status=response.status_code) from exc


def parse_model(model: type[M], payload: Any, method: str, where: str) -> M:
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise protocol_error(exc, model.__name__, method, where) from exc


def protocol_error(
    exc: pydantic.ValidationError, what: str, method: str, where: str
) -> ProtocolError:
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first["loc"]) or "(answer)"
    text = f"unexpected {what} answer: {loc}: {first['msg']}"
    return ProtocolError(redact(_one_line(text)), method=method, path=where)

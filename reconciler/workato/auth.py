"""Credentials: read from the environment only, registered for redaction, sent as headers.

Bearer auth sends `Authorization: Bearer <token>`. Legacy OEM auth sends `x-user-email`
and `x-user-token`; Workato retired those headers in 2025, so using them logs one
warning per process (deployments that still accept them keep working).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.errors import RlcmError
from reconciler.redact import register_secret

__all__ = ["CREDENTIAL_HEADERS", "Credentials", "credential_headers", "read_credentials"]

log = logging.getLogger(__name__)

AuthStyle = Literal["bearer", "legacy"]
# Every header that carries a secret: none of them may ever leave the API's origin.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-user-email", "x-user-token"})

_warned: set[str] = set()  # one legacy warning per process, not one per request


@dataclass(frozen=True, slots=True)
class Credentials:
    auth: AuthStyle
    token: str = field(repr=False)
    email: str | None = field(default=None, repr=False)

    def identity(self) -> str:
        """A stable digest naming these credentials without revealing them (limiter keys)."""
        material = f"{self.auth}\0{self.email or ''}\0{self.token}".encode()
        return hashlib.sha256(material).hexdigest()[:16]


def read_credentials(
    *,
    workspace: str,
    auth: AuthStyle,
    token_env: str,
    email_env: str | None,
    env: Mapping[str, str],
) -> Credentials:
    """Credentials named by a Workspace; errors name the variable, never a value."""
    token = _require(env, token_env, workspace)
    email: str | None = None
    if auth == "legacy":
        if not email_env:
            raise RlcmError(f"workspace {workspace!r}: auth legacy needs email_env")
        email = _require(env, email_env, workspace)
    register_secret(token)
    register_secret(email)
    return Credentials(auth=auth, token=token, email=email)


def _require(env: Mapping[str, str], name: str, workspace: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        if looks_like_token(name):
            register_secret(name)  # and from every other line that might show it
            raise RlcmError(
                f"workspace {workspace!r}: the environment variable its token_env or "
                "email_env names is not set, and that name looks like a pasted token, so "
                "it is not shown; give the variable's name instead (e.g. WORKATO_API_TOKEN)"
            )
        raise RlcmError(
            f"environment variable {name} is not set (needed by workspace {workspace!r})"
        )
    if not all(33 <= ord(char) < 127 for char in value):
        # It becomes a header value: a newline or a non-ASCII character would make httpx
        # or the HTTP layer fail with a message that quotes the value.
        raise RlcmError(
            f"environment variable {name} holds characters no credential has (spaces, "
            f"control or non-ASCII characters; needed by workspace {workspace!r}); "
            "its value is not shown"
        )
    return value


def looks_like_token(name: str) -> bool:
    """A `token_env` that may be a token pasted in place of a variable's name, so it is
    never shown: anything but a conventional variable name (UPPER_CASE letters, digits and
    `_`, starting with a letter, mostly letters). Tokens have underscores or are short
    too; a real variable name hidden by this only costs the reader a look at the config."""
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
        return True
    return sum(char.isdigit() for char in name) * 3 > len(name)


def credential_headers(creds: Credentials) -> dict[str, str]:
    register_secret(creds.token)
    register_secret(creds.email)
    if creds.auth == "legacy":
        _warn_legacy_once()
        return {"x-user-email": creds.email or "", "x-user-token": creds.token}
    return {"Authorization": f"Bearer {creds.token}"}


def _warn_legacy_once() -> None:
    if "legacy" not in _warned:
        _warned.add("legacy")
        log.warning(
            "auth: style=legacy x-user-email/x-user-token headers were retired by Workato "
            "in 2025; switch the workspace to bearer auth with an API client token"
        )

"""Open a WorkatoClient for a Workspace of the config.

Credentials come from the environment variables the Workspace names (never from YAML).
`sim://DIR` selects the in-process simulator persisted in DIR; anything else is a real
Workato base URL reached over HTTPS.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.config.desired import WorkspaceSpec

if TYPE_CHECKING:
    import httpx

    from reconciler.workato.client import WorkatoClient

__all__ = ["SIM_BASE_URL", "SIM_SCHEME", "open_client"]

SIM_SCHEME = "sim://"
SIM_BASE_URL = "http://workato.sim"


def open_client(workspace: WorkspaceSpec, env: Mapping[str, str] | None = None) -> WorkatoClient:
    """A client for `workspace`; a missing credential variable is an RlcmError naming it."""
    # imported here so that loading the CLI does not pay for httpx and pydantic
    from reconciler.workato.auth import read_credentials
    from reconciler.workato.client import ClientSettings, WorkatoClient
    from reconciler.workato.limits import shared_limiters

    creds = read_credentials(
        workspace=workspace.name,
        auth=workspace.auth,
        token_env=workspace.token_env,
        email_env=workspace.email_env,
        env=os.environ if env is None else env,
    )
    base_url, transport = _endpoint(workspace.base_url)
    settings = ClientSettings(
        base_url=base_url,
        auth=creds.auth,
        token=creds.token,
        email=creds.email,
        rate_limits=workspace.rate_limits,
        request_timeout=workspace.request_timeout,
        poll=workspace.poll,
        # Keyed by the configured URL, not the transport's: every sim://DIR is served as
        # http://workato.sim, yet each DIR is a workspace with quotas of its own.
        limiters=shared_limiters(workspace.base_url, creds.identity(), workspace.rate_limits),
        max_package_bytes=workspace.max_package_bytes,
        max_retries=workspace.retry.attempts,
        backoff_base=workspace.retry.backoff,
        backoff_max=workspace.retry.max_backoff,
    )
    return WorkatoClient(settings, transport=transport)


def _endpoint(base_url: str) -> tuple[str, httpx.AsyncBaseTransport | None]:
    if not base_url.startswith(SIM_SCHEME):
        return base_url, None
    # imported by name: the simulator is only loaded when a config asks for it
    module = importlib.import_module("reconciler.simulator.transport")
    transport: httpx.AsyncBaseTransport = module.SimTransport(Path(base_url[len(SIM_SCHEME) :]))
    return SIM_BASE_URL, transport

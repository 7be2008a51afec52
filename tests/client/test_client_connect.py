"""Opening a client for a Workspace: credentials from the environment only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.cli.connect import SIM_BASE_URL, open_client
from reconciler.config.desired import PollSettings, RateLimits, WorkspaceSpec
from reconciler.errors import RlcmError
from reconciler.redact import redact
from reconciler.workato.client import WorkatoClient

PARTNER = WorkspaceSpec(name="partner", base_url="https://app.eu.workato.com")
LEGACY = WorkspaceSpec(
    name="oem", base_url="https://www.workato.com", auth="legacy", email_env="WORKATO_API_EMAIL"
)


def close(client: WorkatoClient) -> None:
    asyncio.run(client.aclose())


@pytest.mark.parametrize("env", [{}, {"WORKATO_API_TOKEN": ""}, {"WORKATO_API_TOKEN": "  "}])
def test_a_missing_token_names_the_variable_and_the_workspace(env: dict[str, str]) -> None:
    with pytest.raises(RlcmError) as raised:
        open_client(PARTNER, env)
    assert str(raised.value) == (
        "environment variable WORKATO_API_TOKEN is not set (needed by workspace 'partner')"
    )


def test_legacy_auth_needs_the_email_variable_too() -> None:
    with pytest.raises(RlcmError, match=r"WORKATO_API_EMAIL is not set .*'oem'") as raised:
        open_client(LEGACY, {"WORKATO_API_TOKEN": "legacy-token-value"})
    assert "legacy-token-value" not in str(raised.value)


def test_a_workspace_opens_a_client_with_its_settings() -> None:
    workspace = WorkspaceSpec(
        name="partner",
        base_url="https://app.eu.workato.com",
        rate_limits=RateLimits(other=30),
        request_timeout=12.0,
        poll=PollSettings(interval=1.0),
    )
    client = open_client(workspace, {"WORKATO_API_TOKEN": "connect-token-42"})
    close(client)
    assert client.settings.base_url == "https://app.eu.workato.com"
    assert client.settings.request_timeout == 12.0
    assert client.settings.rate_limits.other == 30
    assert client.settings.poll.interval == 1.0
    # the token is known to the redactor and absent from the settings' repr
    assert "connect-token-42" not in repr(client.settings)
    assert redact("Bearer connect-token-42") == "Bearer ***"


def test_legacy_workspace_reads_both_variables() -> None:
    env = {"WORKATO_API_TOKEN": "legacy-token-7", "WORKATO_API_EMAIL": "ops@partner.example"}
    client = open_client(LEGACY, env)
    close(client)
    assert client.settings.auth == "legacy"
    assert client.settings.email == "ops@partner.example"
    assert redact("ops@partner.example") == "***"


def test_sim_base_url_uses_the_in_process_simulator(tmp_path: Path) -> None:
    pytest.importorskip("reconciler.simulator.transport")
    workspace = WorkspaceSpec(name="partner", base_url=f"sim://{tmp_path / 'sim'}")
    client = open_client(workspace, {"WORKATO_API_TOKEN": "demo-token"})
    close(client)
    assert client.settings.base_url == SIM_BASE_URL


@pytest.mark.parametrize(
    "pasted", ["a3f9c2e8b7d14f6a9c0e2b5d8f1a4c7e", "wrkaus1f0c9e7b2d4a6c8e0f2b4d6a8c0e2f4a6"]
)
def test_a_token_pasted_as_token_env_is_never_shown(pasted: str) -> None:
    """token_env takes a variable's name; a token pasted there passes the name pattern
    (letters and digits), and the 'not set' error must not print it."""
    workspace = WorkspaceSpec(name="partner", base_url="https://www.workato.com", token_env=pasted)
    with pytest.raises(RlcmError) as raised:
        open_client(workspace, {})
    message = str(raised.value)
    assert pasted not in message
    assert "looks like a pasted token" in message and "'partner'" in message
    assert redact(f"token_env: {pasted}") == "token_env: ***"


def test_a_long_variable_name_is_still_named() -> None:
    workspace = WorkspaceSpec(
        name="partner", base_url="https://www.workato.com", token_env="WORKATO_API_TOKEN_FOR_PROD_2"
    )
    with pytest.raises(RlcmError, match="environment variable WORKATO_API_TOKEN_FOR_PROD_2 is"):
        open_client(workspace, {})

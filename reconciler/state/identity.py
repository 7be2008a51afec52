"""Which source workspace a state file describes, so one is never used for another.

A state file names live manifest ids: used with another source workspace (a copied
config, a `--state` pointing at the wrong file), every id is someone else's, and an apply
would create every manifest again and re-import every target. So the state records its
source (base URL and managed user) on the first apply, and a config whose source differs
is refused with both named.
"""

from __future__ import annotations

import re

from reconciler.config.desired import DesiredState
from reconciler.errors import StateError
from reconciler.state.model import State

__all__ = ["check_source", "source_identity"]

_LOOPBACK_PORT = re.compile(r"^(https?://(?:127\.0\.0\.1|localhost|\[::1\])):\d+$")


def source_identity(desired: DesiredState) -> str:
    """`BASE_URL` of the source workspace, `#MANAGED_USER` when it is a customer's. A
    simulator is `sim://` without its directory: a demo or test world is copied around;
    a loopback URL (`rlcm sim serve`, a local proxy) without its port, which is often
    chosen when the server starts."""
    workspace = desired.workspaces[desired.source.workspace]
    owner = desired.source.managed_user
    base = workspace.base_url.rstrip("/")
    if base.startswith("sim://"):
        base = "sim://"
    base = _LOOPBACK_PORT.sub(r"\1", base)
    return f"{base}#{owner}" if owner is not None else base


def check_source(state: State, desired: DesiredState, where: str) -> None:
    """Refuse a state of another source; adopt the config's source in a state without one
    (written with the next write)."""
    mine = source_identity(desired)
    if state.source is None:
        state.source = mine
        return
    if state.source != mine:
        raise StateError(
            f"{where} describes source {state.source}, but the config's source "
            f"is {mine}: it holds another workspace's manifest ids; give this config its own "
            "state (--state FILE), or fix the config's Source"
        )

"""`/__sim/`: the Simulator's controls over HTTP, for tests that drive a server process.

    POST /__sim/  {"action": "inject_fault", "args": {"kind": "import", "fault": "503"}}
    POST /__sim/  {"action": "set_dialect", "args": {"names": ["processing", "one_import"]}}
    GET  /__sim/log      the request log          GET /__sim/counts   requests per endpoint

No auth: the simulator only ever listens on a loopback address.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Protocol

from reconciler.simulator.messages import Reply, Request, json_reply

__all__ = ["ACTIONS", "handle_admin"]

ACTIONS = frozenset(
    {
        "seed_demo", "set_time_scale", "set_latency", "set_job_timing", "set_rate_limits",
        "set_dialect",
        "inject_fault", "fail_next_import", "fail_next_export", "clear_faults",
        "set_request_logging", "set_home_assets_project", "bump_recipe_version", "change_asset",
        "rename_asset", "delete_asset", "start_recipe", "stop_recipe", "edit_manifest",
        "archive_manifest", "add_managed_user", "folder_assets", "asset", "manifest", "job",
        "recipe_running", "managed_user_id", "request_counts", "clear_request_log",
        "add_customer", "remove_customer", "provision_environments", "seed_imported",
        "set_bare_environment", "customers", "add_folder", "folders",
        "add_jobs", "set_connection_authorized", "set_recipes_shape",
    }
)  # fmt: skip


class Controls(Protocol):
    """The Simulator (core.py), seen from here: its request log and one method per action.

    admin.py does not import core.py, which routes `/__sim/` here (no import cycle)."""

    def request_log(self) -> list[Any]: ...
    def request_counts(self) -> dict[str, int]: ...


def handle_admin(sim: Controls, request: Request) -> Reply:
    tail = request.raw_path.rstrip("/").removeprefix("/__sim").strip("/")
    if request.method == "GET" and tail == "log":
        return json_reply(200, {"result": [asdict(r) for r in sim.request_log()]})
    if request.method == "GET" and tail == "counts":
        return json_reply(200, {"result": sim.request_counts()})
    if request.method != "POST" or tail:
        return json_reply(404, {"message": "Not found"})
    try:
        body = json.loads(request.body or b"{}")
        action, args = body["action"], dict(body.get("args") or {})
    except (ValueError, KeyError, TypeError):
        return json_reply(400, {"error": 'expected {"action": NAME, "args": {...}}'})
    if action not in ACTIONS:
        return json_reply(400, {"error": f"unknown action {action!r}"})
    if action in ("add_managed_user", "add_customer") and isinstance(args.get("folders"), dict):
        args["folders"] = {int(k): v for k, v in args["folders"].items()}
    try:
        result: Any = getattr(sim, action)(**args)
    except (KeyError, ValueError, TypeError) as exc:
        return json_reply(422, {"error": str(exc)})
    return json_reply(200, {"result": result})

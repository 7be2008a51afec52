"""Rate limits with Workato's quotas, and injected faults.

Quotas (per partner workspace, as Workato publishes them): embedded imports and import
status 1,000/minute each, every other RLCM call 60/minute, developer-API imports
500/hour; listing customers and the folders endpoints 60/minute each, in buckets of
their own (customers.py, folders.py). Windows are divided by the time scale. Counters
live in memory per process; the switches live in controls.json so any process on DIR
honours them.
500/hour; the Recipes API's list and get 2,000/minute, start and stop 1,000/minute,
the developer API's recipe calls 60/minute. Windows are divided by the time scale.
Counters live in memory per process; the switches live in controls.json so any process
on DIR honours them.
"""

from __future__ import annotations

import bisect
import collections
import json
import math
import threading
from pathlib import Path
from typing import Any, ClassVar

from reconciler.simulator.clock import Clock
from reconciler.simulator.messages import Reply, json_reply

__all__ = [
    "CUSTOMER_KINDS",
    "DEFAULT_QUOTAS",
    "ENDPOINT_KINDS",
    "FAULTS",
    "RECIPE_KINDS",
    "RateLimiter",
    "corrupt",
    "fault_reply",
]

Json = dict[str, Any]
DEFAULT_QUOTAS: dict[str, tuple[float, float]] = {  # bucket -> (requests, window seconds)
    "imports": (1000, 60),
    "import_status": (1000, 60),
    "other": (60, 60),
    "dev_imports": (500, 3600),
    # the Manage customers and Folders pages give these families quotas of their own
    "customers": (60, 60),
    "folders": (60, 60),
    # the Recipes API (recipes.py): embedded list/get, embedded start/stop, developer API
    "recipes": (2000, 60),
    "recipe_actions": (1000, 60),
    "dev_recipes": (60, 60),
}
ENDPOINT_KINDS = (
    "folder_assets",
    "manifest_create",
    "manifest_view",
    "manifest_update",
    "manifest_delete",
    "export",
    "export_status",
    "download",
    "import",
    "import_status",
)
# calls of a generated fleet (customers.py, folders.py): apart from ENDPOINT_KINDS, whose
# every kind a plain `rlcm apply` makes (the hardening fault matrix runs them all)
CUSTOMER_KINDS = ("customers_list", "folders_list", "folder_create")
# the Recipes API's calls (recipes.py); faults can be injected into them too
RECIPE_KINDS = ("recipes_list", "recipe_view", "recipe_start", "recipe_stop")
FAULTS = (
    "429",
    "500",
    "502",
    "503",
    "504",
    "drop",
    "slow",
    "malformed_json",
    "html",
    "wrong_type",
    "unknown_enum",
)
_HTML = (
    b"<!DOCTYPE html><html><head><title>We're sorry</title></head>"
    b"<body><h1>%d</h1><p>Something went wrong.</p></body></html>"
)


class RateLimiter:
    """Sliding-window counters per bucket, by arrival time.

    A request is allowed when fewer than `limit` allowed requests of its bucket arrived
    within the `window` (simulated seconds) ending at its own arrival. Arrival, not
    handling: a loaded simulator handles requests late and unevenly, and counting them
    then would bunch correctly spaced requests into one window. Requests are handled a
    little out of arrival order, so the log is kept sorted and pruned with some slack.
    """

    SLACK = 5.0  # real seconds an arrival may wait before it is handled
    _SHARED: ClassVar[dict[Path, RateLimiter]] = {}
    _SHARED_LOCK = threading.Lock()

    def __init__(self) -> None:
        self._hits: dict[str, list[float]] = collections.defaultdict(list)
        self._lock = threading.Lock()

    @classmethod
    def of(cls, directory: Path) -> RateLimiter:
        """The counters of one simulated Workato (its directory), shared by every engine
        in this process: two clients on one `sim://DIR` spend one quota, as two clients
        of one real workspace do."""
        key = directory.resolve()
        with cls._SHARED_LOCK:
            limiter = cls._SHARED.get(key)
            if limiter is None:
                limiter = cls._SHARED[key] = cls()
            return limiter

    def check(
        self,
        bucket: str,
        limit: float,
        window: float,
        clock: Clock,
        arrived: float | None = None,
        *,
        fixed: bool = False,
    ) -> float | None:
        """Record a hit; None when allowed, else the real seconds until a slot frees up.

        Allowed when no window of `window` seconds that holds this arrival would hold more
        than `limit` hits, counting hits that arrived *after* it but were handled first
        (requests are handled a little out of order): a burst that arrived together is
        limited whatever order its requests are handled in. With `fixed`, the windows are
        the clock's: the count resets at the top of each minute (hour), as Workato's
        "denied until the following hour" does; they start on the real wall clock's
        multiples of the (scaled) window.
        """
        now = clock.now()
        at = now if arrived is None else min(arrived, now)
        real_window = clock.real(window)
        cap = math.ceil(limit)
        with self._lock:
            hits = self._hits[bucket]
            stale = bisect.bisect_right(hits, now - real_window - self.SLACK)
            del hits[:stale]
            if fixed:
                offset = clock.wall() - clock.now()
                start = math.floor((at + offset) / real_window) * real_window - offset
                inside = bisect.bisect_left(hits, start + real_window) - bisect.bisect_left(
                    hits, start
                )
                if inside >= cap:
                    return max(start + real_window - at, 0.0)
                bisect.insort(hits, at)
                return None
            # every hit that can share a window with this one
            first = bisect.bisect_right(hits, at - real_window)
            near = hits[first : bisect.bisect_left(hits, at + real_window, first)]
            wait = _over_limit(near, at, real_window, cap)
            if wait is not None:
                return wait
            bisect.insort(hits, at)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def _over_limit(near: list[float], at: float, window: float, cap: int) -> float | None:
    """Seconds until a hit at `at` would fit, or None when it fits now: no run of hits
    less than `window` apart that includes `at` may hold more than `cap` of them.

    `near` is sorted and holds every hit within `window` of `at`; with `at` inserted at
    index `mine`, the windows holding it span indices l <= mine <= r.
    """
    mine = bisect.bisect_right(near, at)
    times = [*near[:mine], at, *near[mine:]]
    left = 0
    for right in range(mine, len(times)):
        while times[right] - times[left] >= window:
            left += 1
        if left > mine:
            break  # later windows no longer hold `at`
        if right - left + 1 > cap:
            # a retry fits once fewer than `cap` of these hits are less than a window old
            return max(near[-cap] + window - at, 0.0)
    return None


def too_many(retry_after: float | None) -> Reply:
    headers = {} if retry_after is None else {"retry-after": str(max(1, math.ceil(retry_after)))}
    return json_reply(429, {"message": "Too many requests. Please retry later."}, headers)


def fault_reply(fault: Json) -> Reply | None:
    """The answer a fault gives instead of the real one (None: answer normally)."""
    kind = fault["fault"]
    if kind == "429":
        retry = fault.get("retry_after", 1)
        return too_many(None if retry in (None, False) else float(retry))
    if kind in ("500", "502", "503", "504"):
        if kind in ("502", "504"):  # gateways answer HTML
            return Reply(int(kind), _HTML % int(kind), {"content-type": "text/html"})
        return json_reply(int(kind), {"message": "Internal server error"})
    if kind == "drop":
        return Reply(0, drop=True)
    if kind == "malformed_json":
        return Reply(
            200, b'{"result": {"id": 12, "name": "trunc', {"content-type": "application/json"}
        )
    if kind == "html":
        return Reply(200, _HTML % 200, {"content-type": "text/html; charset=utf-8"})
    return None


def corrupt(reply: Reply, fault: str) -> Reply:
    """wrong_type / unknown_enum: damage one field of a real JSON answer."""
    try:
        payload = json.loads(reply.body)
    except ValueError:
        return reply
    target = payload.get("result", payload) if isinstance(payload, dict) else payload
    if isinstance(target, dict):
        if fault == "wrong_type":
            _wrong_type(target)
        else:
            _unknown_enum(target)
    return Reply(reply.status, json.dumps(payload).encode(), reply.headers, reply.delay)


def _wrong_type(target: Json) -> None:
    for key in ("status", "id", "assets", "recipe_status", "success"):
        if key in target:
            value = target[key]
            if isinstance(value, str):
                target[key] = 12345
            elif isinstance(value, bool | int):
                target[key] = "not-a-number"
            else:
                target[key] = "not-a-list"
            return


def _unknown_enum(target: Json) -> None:
    statuses = target.get("recipe_status")
    if isinstance(statuses, list) and statuses:
        statuses[0]["import_result"] = "quantum_entangled"
    elif "status" in target:
        target["status"] = "frobnicating"
    elif isinstance(target.get("assets"), list) and target["assets"]:
        target["assets"][0]["type"] = "hologram"

"""Run one command as a child process and measure it: wall time, its own CPU seconds and
peak RSS (os.wait4 gives the rusage of that child alone), and the API calls the simulator
logged meanwhile (by endpoint kind, and 429s)."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.world import env
from reconciler.simulator import Simulator

# the quota bucket of each endpoint kind the simulator logs (embedded; None: no quota)
BUCKETS: dict[str, str | None] = {
    "folder_assets": "other", "manifest_create": "other", "manifest_view": "other",
    "manifest_update": "other", "manifest_delete": "other", "export": "other",
    "export_status": "other", "download": "other", "asset_download": None,
    "import": "imports", "import_status": "import_status",
    "recipes_list": "recipes", "recipe_view": "recipes",
    "recipe_start": "recipe_actions", "recipe_stop": "recipe_actions",
    "folders_list": "folders", "folder_create": "folders", "customers_list": "customers",
}  # fmt: skip


def by_bucket(calls: dict[str, int]) -> dict[str, int]:
    """Calls per quota bucket (kinds without a quota left out)."""
    out: dict[str, int] = {}
    for kind, n in calls.items():
        bucket = BUCKETS.get(kind, "other")
        if bucket is not None:
            out[bucket] = out.get(bucket, 0) + n
    return dict(sorted(out.items()))


@dataclass
class Run:
    command: str
    exit_code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    calls: dict[str, int] = field(default_factory=dict)
    throttled: int = 0  # 429 answers
    output: str = ""

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "calls": dict(sorted(self.calls.items())),
            "calls_by_bucket": by_bucket(self.calls),
            "total_calls": self.total_calls,
            "http_429": self.throttled,
        }


def run(
    argv: list[str], cwd: Path, sim: Simulator | None = None, out_dir: Path | None = None
) -> Run:
    if sim is not None:
        sim.clear_request_log()
    out = (out_dir or cwd) / ".bench-out.txt"
    with out.open("w") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=env())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = Run(
        command=" ".join(Path(a).name if a.startswith("/") else a for a in argv),
        exit_code=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        output=out.read_text(),
    )
    if sim is not None:
        log = sim.request_log()
        result.calls = dict(Counter(r.kind or "unknown" for r in log))
        result.throttled = sum(1 for r in log if r.status == 429)
    return result

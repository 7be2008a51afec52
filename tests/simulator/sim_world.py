"""What the simulator tests share: the demo token's header, the Embedded API's prefix, and
`rlcm sim serve` in a child process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.simulator import Simulator

__all__ = ["BEARER", "MU", "demo_sim", "sim_serve"]

BEARER = {"Authorization": "Bearer demo-token"}
MU = "/api/managed_users"


def demo_sim(directory: Path) -> Simulator:
    """The demo world in `directory`, its jobs done at their first status poll."""
    simulator = Simulator(directory)
    simulator.seed_demo()
    simulator.set_job_timing(duration=1000, polls=1)
    return simulator


@contextmanager
def sim_serve(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`rlcm sim serve ARGS --port 0` in a child process, and the URL it prints first; the
    rest of what it prints is left on the process's stdout. Stopped at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "sim", "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

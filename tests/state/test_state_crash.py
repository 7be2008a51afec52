"""A writer killed with SIGKILL at any moment never leaves a broken state file."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.state.model import PendingManifest, State
from reconciler.state.store import StateStore

# Writes a fleet-sized state in a loop; each write records its own serial in a marker,
# so a file that mixes two writes would show a marker that disagrees with its serial.
WRITER = """
import sys
from pathlib import Path
from reconciler.state.model import PendingManifest, State
from reconciler.state.store import StateStore

store = StateStore(Path(sys.argv[1]))
state = store.read()
print("ready", flush=True)
while True:
    nxt = state.serial + 1
    state.pending["marker"] = PendingManifest(name="marker", started_at=str(nxt))
    # from a few bytes to ~600 kB, so kills land inside writes of every size
    state.pending["filler"] = PendingManifest(name="x" * (nxt % 7 * 100_000), started_at="")
    store.write(state)
"""


def _kill_trials(path: Path, trials: int) -> None:
    store = StateStore(path)
    state = State()
    state.pending["marker"] = PendingManifest(name="marker", started_at="1")
    store.write(state)
    last = 1
    rng = random.Random(1234)
    for _ in range(trials):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.05))  # lands the kill at a random point of some write
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        found = StateStore(path).read()  # raises if the file is broken
        assert found.serial >= last
        assert found.pending["marker"].started_at == str(found.serial)
        last = found.serial
    assert last > 1  # the writers did write


def test_killed_writer_leaves_a_valid_state(tmp_path: Path) -> None:
    _kill_trials(tmp_path / "rlcm.state.json", trials=12)


@pytest.mark.slow
def test_killed_writer_leaves_a_valid_state_many_times(tmp_path: Path) -> None:
    _kill_trials(tmp_path / "rlcm.state.json", trials=60)

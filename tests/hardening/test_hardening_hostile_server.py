"""A hostile HTTP server on 127.0.0.1: an endless 200 body, and one byte every so often.

An endless answer once grew rlcm to 7 GB (a 1 GB body); a server trickling one byte at a
time kept it waiting forever (the timeout is per read). JSON answers are capped
(`api.max_answer_bytes`) and every request has a total deadline (`api.deadline`); both are
set small here so that the test is fast.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hardening_world import TOKEN_ENV, World, check_result, record

BEHAVIOURS = ("endless", "trickle")


class _Hostile(http.server.BaseHTTPRequestHandler):
    behaviour = "endless"
    stop = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            if self.behaviour == "endless":
                self.wfile.write(b'{"result": {"assets": [')
                chunk = b'{"id": 1, "type": "recipe", "name": "x", "version": 1},' * 1000
                for _ in range(20_000):  # bounded: 1 GB, far beyond any cap
                    if self.stop.is_set():
                        return
                    self.wfile.write(chunk)
            else:
                for byte in b'{"result": {"assets": []}}':
                    if self.stop.is_set():
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.4)  # well within the per-read timeout
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def hostile(request: pytest.FixtureRequest) -> Iterator[str]:
    stop = threading.Event()
    handler = type("Handler", (_Hostile,), {"behaviour": request.param, "stop": stop})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def _point_at(world: World, url: str) -> None:
    path = world.config / "workspace.yaml"
    text = path.read_text().replace("sim://sim", url)
    text = text.replace(
        "  timeout: 2.0\n", "  timeout: 2.0\n  deadline: 1.5\n  max_answer_bytes: 65536\n"
    )
    path.write_text(text)


@pytest.mark.http
@pytest.mark.parametrize("hostile", BEHAVIOURS, indirect=True)
def test_a_hostile_answer_is_cut_off_by_size_or_deadline(
    world: World, hostile: str, tmp_path: Path
) -> None:
    record("hostile_tried")
    _point_at(world, hostile)
    started = time.monotonic()
    result = world.run("plan")
    took = time.monotonic() - started
    check_result(world, result)
    assert result.exit_code == 1, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: manifest ") and ": GET " in line and "folder_assets" in line, (
        line
    )
    assert "larger than 65,536 bytes" in line or "no complete answer within 1.5 s" in line, line
    assert took < 20, took  # 3 attempts at most, each cut off at 1.5 s or 64 KB
    assert TOKEN_ENV not in line
    record("hostile_handled")

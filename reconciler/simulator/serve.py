"""The simulator over real HTTP.

Server choice, measured on this machine (2 cores, Python 3.11) with
`python -m reconciler.simulator.loadtest`: 200 concurrent keep-alive connections from
one httpx.AsyncClient, GET folder_assets against a demo seed with 1,000 customers (auth,
routing, file lock, request log); server in its own process, requests/second:

    connections (one AsyncClient)    1     20    200
    stdlib ThreadingHTTPServer      601   336   113
    uvicorn (ASGI, engine in a      255   195   161
      worker thread)

The engine alone answers in ~0.1 ms (about 9,000 requests/s). At 200 connections the
figures measure the client: httpcore's pool scans every connection on each request
(is_idle: 8.8 million calls for 1,500 requests in a profile), so both servers sit idle.
Four client processes of 50 connections each reach 212 requests/s against the stdlib
server (spawn time included); uvicorn reset connections under that load.

The stdlib ThreadingHTTPServer is chosen: it is 1.7-2.4x faster at the concurrency a
fleet apply uses (max_parallel 8, a few dozen connections), needs no extra dependency,
and it can drop a connection for real (close the socket without an answer), which an
ASGI app cannot. Keep-alive and TCP_NODELAY matter: without NODELAY every answer waits
40 ms for a delayed ACK. `asgi_app` stays for comparison.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from reconciler.simulator.core import Simulator
from reconciler.simulator.engine import Engine
from reconciler.simulator.messages import Request

__all__ = ["SimHTTPServer", "asgi_app", "make_server", "running_server"]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a fleet apply reuses its connections
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    server: SimHTTPServer

    def _serve(self) -> None:
        arrived = time.monotonic()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            raw_path=parts.path or "/",
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            host=self.headers.get("host") or f"127.0.0.1:{self.server.server_address[1]}",
            arrived=arrived,
        )
        reply = self.server.answer(request)
        if reply.delay > 0:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the engine keeps the request log


class SimHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a fleet opens hundreds of connections at once

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        self.engine = engine
        self.answer = Simulator.from_engine(engine).handle
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed rlcm, a timed-out read) is not an error of
        the server: say nothing. Anything else keeps the stdlib's traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def make_server(
    directory: Path, host: str = "127.0.0.1", port: int = 0, time_scale: float | None = None
) -> SimHTTPServer:
    return SimHTTPServer((host, port), Engine(Path(directory), time_scale=time_scale))


def base_url(server: SimHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


@contextlib.contextmanager
def running_server(
    directory: Path, port: int = 0, time_scale: float | None = None
) -> Iterator[str]:
    """Serve DIR on 127.0.0.1 in a background thread; yields the base URL.

    `time_scale=None` follows the one persisted in DIR (`Simulator.set_time_scale`), as
    `SimTransport` and `rlcm sim serve` do; a number overrides it for this server.
    """
    server = make_server(directory, "127.0.0.1", port, time_scale)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield base_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def asgi_app(directory: Path, time_scale: float | None = None) -> Any:
    """The same engine as an ASGI app (for uvicorn); drops become a closed 502."""
    import anyio

    handle = Simulator.from_engine(Engine(Path(directory), time_scale=time_scale)).handle

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request = Request(
            method=scope["method"],
            raw_path=scope.get("raw_path", scope["path"].encode()).decode().split("?", 1)[0],
            query=dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True)),
            headers=headers,
            body=body,
            host=headers.get("host", "127.0.0.1"),
        )
        reply = await anyio.to_thread.run_sync(handle, request)
        if reply.delay > 0:
            await anyio.sleep(reply.delay)
        status = 502 if reply.drop else reply.status
        out = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": reply.body})

    return app

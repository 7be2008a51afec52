"""`SimTransport`: the simulator as an httpx transport (sync and async), no sockets.

Any host is served: `http://workato.sim` for the API, `http://assets.workato.sim` for
package downloads (another origin, so credentials must not follow the redirect).
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import httpx

from reconciler.simulator.core import Simulator
from reconciler.simulator.engine import Engine
from reconciler.simulator.messages import Reply, Request

__all__ = ["SimTransport"]


class SimTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    def __init__(self, directory: Path, *, time_scale: float | None = None) -> None:
        self.engine = Engine(Path(directory), time_scale=time_scale)
        self._handle = Simulator.from_engine(self.engine).handle

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        reply = self._handle(_to_request(request, body))
        timeout = _read_timeout(request)
        if reply.delay > 0:
            time.sleep(min(reply.delay, timeout if timeout is not None else reply.delay))
        return _to_response(request, reply, timeout)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        arrived = time.monotonic()
        body = await request.aread()
        # The engine's work is short file I/O under a lock; run it off the event loop so
        # concurrent tasks (and the lock) never stall it.
        call = _to_request(request, body)
        call.arrived = arrived
        reply = await anyio.to_thread.run_sync(self._handle, call)
        timeout = _read_timeout(request)
        if reply.delay > 0:
            await anyio.sleep(min(reply.delay, timeout if timeout is not None else reply.delay))
        return _to_response(request, reply, timeout)


def _read_timeout(request: httpx.Request) -> float | None:
    """The client's read timeout: httpx enforces it only in its network transports, so a
    slow answer must time out here too, as it does over HTTP."""
    timeout = request.extensions.get("timeout")
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _to_request(request: httpx.Request, body: bytes) -> Request:
    url = request.url
    query = {k: v for k, v in url.params.multi_items()}
    host = url.host + (f":{url.port}" if url.port else "")
    return Request(
        method=request.method,
        raw_path=url.raw_path.decode("ascii").split("?", 1)[0],
        query=query,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        host=host,
        scheme=url.scheme,
    )


def _to_response(request: httpx.Request, reply: Reply, timeout: float | None) -> httpx.Response:
    if timeout is not None and reply.delay > timeout:
        raise httpx.ReadTimeout("timed out waiting for the simulator's answer", request=request)
    if reply.drop:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    return httpx.Response(reply.status, headers=reply.headers, content=reply.body, request=request)

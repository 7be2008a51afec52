"""`SimTransport`: the simulator as an httpx transport (sync and async), no sockets.

Any host is served: `http://workato.sim` for the API, `http://assets.workato.sim` for
package downloads (another origin, so credentials must not follow the redirect).
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import httpx

from reconciler.simulator.engine import Engine
from reconciler.simulator.messages import Reply, Request

__all__ = ["SimTransport"]


class SimTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    def __init__(self, directory: Path, *, time_scale: float | None = None) -> None:
        self.engine = Engine(Path(directory), time_scale=time_scale)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        reply = self.engine.handle(_to_request(request, body))
        if reply.delay > 0:
            limit = _read_timeout(request)
            if limit is not None and reply.delay > limit:
                time.sleep(limit)
                raise httpx.ReadTimeout("simulated answer slower than the timeout", request=request)
            time.sleep(reply.delay)
        return _to_response(request, reply)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        # The engine's work is short file I/O under a lock; run it off the event loop so
        # concurrent tasks (and the lock) never stall it.
        reply = await anyio.to_thread.run_sync(self.engine.handle, _to_request(request, body))
        if reply.delay > 0:
            # honour the client's read timeout as a socket would: a slow answer times out
            limit = _read_timeout(request)
            if limit is not None and reply.delay > limit:
                await anyio.sleep(limit)
                raise httpx.ReadTimeout("simulated answer slower than the timeout", request=request)
            await anyio.sleep(reply.delay)
        return _to_response(request, reply)


def _read_timeout(request: httpx.Request) -> float | None:
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


def _to_response(request: httpx.Request, reply: Reply) -> httpx.Response:
    if reply.drop:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    return httpx.Response(reply.status, headers=reply.headers, content=reply.body, request=request)

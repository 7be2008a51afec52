"""Measure the HTTP server: `python -m reconciler.simulator.loadtest [--server stdlib|uvicorn]`.

Prints requests/second for N requests over C concurrent keep-alive connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from reconciler.simulator.core import Simulator
from reconciler.simulator.serve import asgi_app, running_server

__all__ = ["main", "measure"]


@contextlib.contextmanager
def _uvicorn(directory: Path) -> Iterator[str]:
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(
        asgi_app(directory), host="127.0.0.1", port=port, log_level="error", backlog=2048
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


async def measure(base_url: str, requests: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": "Bearer demo-token"}
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, headers=headers, timeout=60
    ) as client:
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with sem:
                user = "E-template" if i % 2 else "E-acme-001"
                folder = 112 if i % 2 else 1827
                r = await client.get(
                    f"/api/managed_users/{user}/export_manifests/folder_assets",
                    params={"folder_id": folder},
                )
                r.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(concurrency)))  # warm up connections
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return requests / (time.perf_counter() - start)


def _client_process(args: tuple[str, int, int]) -> float:
    return asyncio.run(measure(*args))


def measure_processes(base_url: str, requests: int, concurrency: int, processes: int) -> float:
    """Total rate of several client processes: one httpx pool of hundreds of connections
    is itself the bottleneck (its pool scans every connection per request)."""
    share = (base_url, requests // processes, concurrency // processes)
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_client_process, [share] * processes)
    return requests / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", choices=["stdlib", "uvicorn"], default="stdlib")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument(
        "--processes", type=int, default=1, help="client processes sharing the connections"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        Simulator(directory).seed_demo(customers=args.customers)
        cm = running_server(directory) if args.server == "stdlib" else _uvicorn(directory)
        with cm as url:
            if args.processes > 1:
                rate = measure_processes(url, args.requests, args.concurrency, args.processes)
            else:
                rate = asyncio.run(measure(url, args.requests, args.concurrency))
    print(  # noqa: T201 (a command-line tool)
        f"{args.server}: {rate:.0f} requests/s ({args.requests} requests, "
        f"{args.concurrency} connections, {args.processes} client process(es))"
    )


if __name__ == "__main__":
    main()

"""Package download over real HTTP on 127.0.0.1: credentials never reach another origin.

Two local servers: the "API" on 127.0.0.1:P1 redirects to the "storage" on
localhost:P2 (another origin). Both record the headers they receive.
"""

from __future__ import annotations

import asyncio
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.errors import PackageError, ProtocolError
from reconciler.workato.client import WorkatoClient
from reconciler.workato.models import PackageJob

pytestmark = pytest.mark.http
MakeClient = Callable[..., WorkatoClient]
CREDENTIALS = {"authorization", "x-user-email", "x-user-token"}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("CRM sync/sync_accounts.recipe.json", '{"name": "Sync accounts"}')
    return buffer.getvalue()


PACKAGE = _zip()


class Server:
    """A tiny HTTP server answering from a route table and recording request headers."""

    def __init__(self, host: str) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = outer.routes.get(self.path.split("?")[0], (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.close_connection = True  # a body of unknown length, up to the close
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def serve(self, path: str, status: int = 200, body: bytes = b"", **headers: str) -> None:
        self.routes[path] = (status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    api, storage = Server("127.0.0.1"), Server("127.0.0.1")
    for server in (api, storage):
        server.thread.start()
    yield api, storage
    for server in (api, storage):
        server.httpd.shutdown()
        server.httpd.server_close()


def storage_url(storage: Server, path: str) -> str:
    return f"http://localhost:{storage.port}{path}"  # another origin than 127.0.0.1:P1


def download(client: WorkatoClient, owner: str | None, job: PackageJob) -> bytes:
    async def go() -> bytes:
        async with client:
            return await client.download_package(owner, job)

    return asyncio.run(go())


@pytest.mark.parametrize("auth", ["bearer", "legacy"])
def test_no_credential_header_reaches_the_redirect_host(
    servers: tuple[Server, Server], make_client: MakeClient, auth: str
) -> None:
    api, storage = servers
    api.serve(
        "/api/packages/242/download", 302, Location=storage_url(storage, "/pkg.zip?sig=s3cr3t")
    )
    storage.serve("/pkg.zip", 200, PACKAGE, Content_Length=str(len(PACKAGE)))
    client = make_client(
        base_url=f"http://127.0.0.1:{api.port}", auth=auth, email="ops@partner.example"
    )
    assert download(client, None, PackageJob(id=242, status="completed")) == PACKAGE
    [(_, api_headers)] = api.seen
    [(path, storage_headers)] = storage.seen
    assert path == "/pkg.zip?sig=s3cr3t"
    assert CREDENTIALS & set(api_headers)  # the API itself gets them
    assert not CREDENTIALS & set(storage_headers)
    assert "secret-token-123" not in str(storage_headers)
    assert "ops@partner.example" not in str(storage_headers)


def test_embedded_download_url_on_another_host_gets_no_credentials(
    servers: tuple[Server, Server], make_client: MakeClient
) -> None:
    api, storage = servers
    storage.serve("/exportdemo.zip", 200, PACKAGE)  # no Content-Length: streamed to the close
    client = make_client(
        base_url=f"http://127.0.0.1:{api.port}", auth="legacy", email="ops@partner.example"
    )
    job = PackageJob(
        id=370, status="completed", download_url=storage_url(storage, "/exportdemo.zip")
    )
    assert download(client, "E-template", job) == PACKAGE
    assert api.seen == []
    assert not CREDENTIALS & set(storage.seen[0][1])


def test_packages_over_the_cap_are_refused(
    servers: tuple[Server, Server], make_client: MakeClient
) -> None:
    api, storage = servers
    big = b"PK" + b"\0" * 5000
    storage.serve("/declared.zip", 200, big, Content_Length=str(len(big)))
    storage.serve("/streamed.zip", 200, big)
    for path, text in (
        ("/declared.zip", "is 0.00477028 MB, over"),
        ("/streamed.zip", "is larger than"),
    ):
        client = make_client(base_url=f"http://127.0.0.1:{api.port}", max_package_bytes=4096)
        job = PackageJob(id=1, status="completed", download_url=storage_url(storage, path))
        with pytest.raises(PackageError, match=f"package 1 {text} the 0.00390625 MB cap"):
            download(client, "E-t", job)


def test_a_download_that_is_not_a_zip_is_refused(
    servers: tuple[Server, Server], make_client: MakeClient
) -> None:
    api, storage = servers
    storage.serve("/error.html", 200, b"<html>Access denied</html>")
    job = PackageJob(id=7, status="completed", download_url=storage_url(storage, "/error.html"))
    with pytest.raises(PackageError, match="package 7 is not a zip file"):
        download(make_client(base_url=f"http://127.0.0.1:{api.port}"), "E-t", job)


def test_redirect_loops_end(servers: tuple[Server, Server], make_client: MakeClient) -> None:
    api, _ = servers
    api.serve("/api/packages/5/download", 302, Location="/api/packages/5/download")
    with pytest.raises(ProtocolError, match="more than 5 redirects"):
        download(
            make_client(base_url=f"http://127.0.0.1:{api.port}"),
            None,
            PackageJob(id=5, status="completed"),
        )
    assert len(api.seen) == 6


def test_an_unfinished_export_has_nothing_to_download(make_client: MakeClient) -> None:
    with pytest.raises(PackageError, match="package 365 has no download URL yet"):
        download(make_client(), "E-t", PackageJob(id=365, status="in_progress"))

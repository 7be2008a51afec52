"""The async Workato RLCM client: one method per endpoint of the three API families.

`owner` names whose workspace a call acts on: a managed-user id (numeric or `E...`) for
the embedded family, or None for the workspace's own environment (developer API).

Each call goes through the same layers, outermost first: quota limiter (limits.py) ->
retry loop (retry.py) -> one HTTP request -> answer parsing (answers.py, models.py).
Each endpoint method names its quota bucket and its retry rule; the reason a POST may
or may not be retried is written beside it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import pydantic

from reconciler import __version__
from reconciler.errors import (
    ApiError,
    ApiTimeoutError,
    ConnectionFailedError,
    NotFoundError,
    PackageError,
    ProtocolError,
)
from reconciler.redact import redact
from reconciler.workato import paths
from reconciler.workato.answers import error_for_response, parse_json, parse_model, protocol_error
from reconciler.workato.auth import Credentials, credential_headers
from reconciler.workato.download import (
    DOWNLOAD_ACCEPT,
    check_zip,
    describe_url,
    read_capped,
    same_origin,
)
from reconciler.workato.limits import (
    MAX_RETRY_AFTER,
    Bucket,
    QuotaLimiters,
    QuotaListener,
    SlidingWindowLimiter,
    Turn,
    shared_limiters,
)
from reconciler.workato.models import (
    Asset,
    Customer,
    Folder,
    ImportJob,
    ManifestBody,
    ManifestView,
    PackageJob,
    Recipe,
    RecipeAction,
    unwrap_list,
    unwrap_result,
)
from reconciler.workato.retry import (
    CREATE,
    EXPORT,
    IMPORT,
    IMPORT_BUSY,
    READ,
    WRITE_IDEMPOTENT,
    RetryRule,
    backoff_delay,
    retry_after_seconds,
)
from reconciler.workato.settings import ClientSettings, ClientStats

__all__ = ["ClientSettings", "ClientStats", "WorkatoClient"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=pydantic.BaseModel)
Job = TypeVar("Job", PackageJob, ImportJob)


@dataclass(frozen=True, slots=True)
class _Call:
    """One endpoint: its name in stats, method, path for messages, bucket, retry rule."""

    kind: str
    method: str
    where: str
    bucket: Bucket | None
    rule: RetryRule


# the answer is kept decoded: what said how it was sent no longer applies
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class DeadlineExceeded(httpx.ReadTimeout):
    """The whole request took longer than `request_deadline` (retried as a read timeout:
    the request may have reached the server)."""


def _flag(value: bool) -> str:
    return "true" if value else "false"


class _WaitBudget:
    """How long one call has waited on 429s so far, against `rate_limits.max_wait`."""

    def __init__(self, settings: ClientSettings) -> None:
        self._clock = settings.clock
        self.budget = settings.rate_limits.max_wait / settings.rate_limits.time_scale
        self._since: float | None = None
        self.count = 0

    def allows(self, wait: float) -> bool:
        now = self._clock()
        if self._since is None:
            self._since = now
        self.count += 1
        return bool(now - self._since + wait <= self.budget)


PAGE_SIZE = 100  # the documented maximum of Embedded list endpoints
# At most this many requests in flight, each on a connection of its own: a "lane", an
# httpx client whose pool holds one connection. httpcore's pool (1.0.9,
# `_assign_requests_to_connections`) walks every connection each time a request starts or
# ends, and asks each idle one's socket whether it is readable (a select and, through
# anyio, a getpeername): a thousand recipe reads handed to one pool at once cost a
# 1,000-target `rlcm plan` 38 CPU seconds, and with the requests queued here instead, a
# pool of 16 still spent a quarter of an apply's CPU walking its idle connections. A lane
# walks one. 16 lanes at Workato's 0.25 s answers carry 64 calls/s, more than an apply
# draws at max_parallel 100 (about 43/s: imports, their status polls and recipe reads).
MAX_IN_FLIGHT = 16
MAX_PAGES = 10_000  # a million customers: beyond that, a server that never ends its list


def _listed(payload: Any) -> Any:
    """A list answer: bare, in `result` (unwrapped already), or under `items`/`data`."""
    if isinstance(payload, dict):
        for key in ("items", "data"):
            if isinstance(payload.get(key), list):
                return payload[key]
    return payload


class WorkatoClient:
    """Async client of Workato's RLCM endpoints (embedded, developer API, legacy OEM)."""

    def __init__(
        self, settings: ClientSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.stats = ClientStats()
        self._creds = Credentials(auth=settings.auth, token=settings.token, email=settings.email)
        self._cred_headers = credential_headers(self._creds)
        self._base = httpx.URL(settings.base_url.rstrip("/") + "/")
        self._limiters: QuotaLimiters = settings.limiters or shared_limiters(
            settings.base_url, self._creds.identity(), settings.rate_limits
        )
        # httpcore tells us (its `trace` hook) when a request's headers are about to leave
        # on a pooled connection: the moment the quota counts. Other transports (the
        # simulator's, tests' mocks) send as soon as they are called.
        self._traced = transport is None or isinstance(transport, httpx.AsyncHTTPTransport)
        # lanes (MAX_IN_FLIGHT): over HTTP, each its own client of one connection, all of
        # them sharing one TLS context (each of httpx's own loads the CA bundle: 30 ms); a
        # given transport (the simulator's, tests' mocks) has no pool to walk, and one
        # client serves every lane of it
        self._tls = httpx.create_ssl_context() if transport is None else None
        http = [self._lane(transport) for _ in range(MAX_IN_FLIGHT if transport is None else 1)]
        self._http = http[0]  # builds every request (a lane only sends them)
        # downloads (a package, a few per apply) stream their body after the answer: they
        # hold a connection past the lane's turn, so they have a client of their own
        self._streams = self._lane(transport, connections=4) if transport is None else http[0]
        self._all_lanes = [*http, self._streams] if transport is None else http
        self._lanes: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        for i in range(MAX_IN_FLIGHT):  # last used, first reused: its connection is warm
            self._lanes.put_nowait(http[i % len(http)])

    def _lane(
        self, transport: httpx.AsyncBaseTransport | None, *, connections: int = 1
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.settings.base_url.rstrip("/"),
            transport=transport,
            verify=self._tls or True,
            # a connection is waited for without limit: the limiter already paces us
            timeout=httpx.Timeout(self.settings.request_timeout, pool=None),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            follow_redirects=False,  # downloads follow redirects themselves, without credentials
            headers={"Accept": "application/json", "User-Agent": f"rlcm/{__version__}"},
        )

    async def aclose(self) -> None:
        for http in self._all_lanes:
            await http.aclose()

    @property
    def limiters(self) -> QuotaLimiters:
        """This workspace's quota buckets (shared by every client of it in the process)."""
        return self._limiters

    @property
    def quota_listeners(self) -> list[QuotaListener]:
        """Called (`QuotaWait`) whenever a bucket of this workspace waits on Workato: the
        progress line listens here. Shared by every client of the workspace."""
        return self._limiters.listeners

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ---- manifests -------------------------------------------------------------------

    async def folder_assets(
        self,
        owner: str | None,
        folder_id: int | None,
        *,
        include_test_cases: bool = False,
        include_data: bool = False,
    ) -> list[Asset]:
        params: dict[str, str] = {}
        if folder_id is not None:
            params["folder_id"] = str(int(folder_id))
        if include_test_cases:
            params["include_test_cases"] = "true"
        if include_data:
            params["include_data"] = "true"
        call = self._call("folder_assets", "GET", paths.folder_assets(owner), "other", READ)
        payload = unwrap_result(await self._json(call, params=params))
        raw = payload.get("assets") if isinstance(payload, dict) else payload
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise ProtocolError(
                "unexpected folder_assets answer: assets is not a list",
                method=call.method,
                path=call.where,
            )
        try:
            return [Asset.model_validate(item) for item in raw]
        except pydantic.ValidationError as exc:
            raise protocol_error(exc, "folder_assets", call.method, call.where) from exc

    async def create_manifest(self, owner: str | None, body: ManifestBody) -> ManifestView:
        # A second create would leave a duplicate manifest that state does not know, so
        # CREATE retries only when the server certainly did nothing (429, unsent request).
        call = self._call("manifest_create", "POST", paths.manifests(owner), "other", CREATE)
        return await self._model(call, ManifestView, json=body.wire())

    async def view_manifest(self, owner: str | None, manifest_id: int) -> ManifestView:
        call = self._call("manifest_view", "GET", paths.manifest(owner, manifest_id), "other", READ)
        return await self._model(call, ManifestView)

    async def update_manifest(
        self, owner: str | None, manifest_id: int, body: ManifestBody
    ) -> ManifestView:
        # PUT replaces the manifest with the same body: doing it twice changes nothing more.
        where = paths.manifest(owner, manifest_id)
        call = self._call("manifest_update", "PUT", where, "other", WRITE_IDEMPOTENT)
        return await self._model(call, ManifestView, json=body.wire())

    async def delete_manifest(self, owner: str | None, manifest_id: int) -> None:
        # Deleting archives the manifest; deleting it again cannot do anything more.
        where = paths.manifest(owner, manifest_id)
        call = self._call("manifest_delete", "DELETE", where, "other", WRITE_IDEMPOTENT)
        response = await self._send_api(call, lambda: self._http.build_request("DELETE", where))
        if not response.content.strip():
            return  # 204 or an empty 200
        payload = unwrap_result(parse_json(response, call.method, call.where))
        if isinstance(payload, dict) and payload.get("success") is False:
            raise ProtocolError("delete answered success: false", method=call.method, path=where)

    # ---- exports ---------------------------------------------------------------------

    async def start_export(self, owner: str | None, manifest_id: int) -> PackageJob:
        # A second export of one manifest only builds another package of the same
        # content, which nobody refers to: harmless, so EXPORT retries like a write.
        call = self._call(
            "export_start", "POST", paths.start_export(owner, manifest_id), "other", EXPORT
        )
        return await self._model(call, PackageJob)

    async def export_status(self, owner: str | None, package_id: int) -> PackageJob:
        call = self._call(
            "export_status", "GET", paths.export_status(owner, package_id), "other", READ
        )
        return await self._model(call, PackageJob)

    async def wait_export(
        self, owner: str | None, package_id: int, *, since: float | None = None
    ) -> PackageJob:
        return await self._poll(
            f"export {package_id}",
            paths.export_status(owner, package_id),
            lambda: self.export_status(owner, package_id),
            since,
        )

    async def download_package(self, owner: str | None, job: PackageJob) -> bytes:
        """The package zip. Embedded exports name a `download_url`; the developer API
        downloads by id. Redirects are followed here, credentials only to the API origin."""
        what = f"package {job.id}"
        if owner is None:
            url = self._base.join(paths.package_download(job.id).lstrip("/"))
        elif job.download_url:
            url = self._base.join(job.download_url)
        else:
            raise PackageError(f"{what} has no download URL yet (status {job.status})")
        for _ in range(self.settings.max_redirects + 1):
            response = await self._download_hop(url)
            if response.is_redirect:
                await response.aclose()
                url = self._redirect_target(url, response, what)
                continue
            kind = response.headers.get("content-type", "").lower()
            if "html" in kind or "json" in kind:
                # an error page or an API answer where the zip should be (a proxy, an
                # expired link): the package itself may be fine, so it is not refused
                await response.aclose()
                raise ProtocolError(
                    f"{what}: the download answered {kind.split(';')[0]}, not a zip",
                    method="GET",
                    path=describe_url(url),
                    status=response.status_code,
                )
            try:
                data = await read_capped(response, self.settings.max_package_bytes, what)
            except httpx.TransportError as exc:
                raise self._transport_error(exc, "GET", describe_url(url)) from exc
            finally:
                await response.aclose()
            try:
                check_zip(data, what)
            except PackageError as exc:  # name the download call, as other errors do
                raise PackageError(exc.message, method="GET", path=describe_url(url)) from None
            return data
        raise ProtocolError(
            f"{what}: more than {self.settings.max_redirects} redirects",
            method="GET",
            path=describe_url(url),
        )

    @staticmethod
    def _redirect_target(url: httpx.URL, response: httpx.Response, what: str) -> httpx.URL:
        location = response.headers.get("location", "").strip()
        try:
            target = url.join(location) if location else None
        except httpx.InvalidURL:
            target = None
        if target is None or target.scheme not in ("http", "https"):
            raise ProtocolError(
                f"{what}: a redirect without a usable location",
                method="GET",
                path=describe_url(url),
                status=response.status_code,
            )
        return target

    async def _download_hop(self, url: httpx.URL) -> httpx.Response:
        # Credentials go to the API's own origin only: a storage host gets none, neither
        # Authorization nor x-user-* (httpx would forward the latter on its own redirects).
        own = same_origin(url, self._base)
        where = url.path if own else describe_url(url)
        headers = self._cred_headers if own else {}
        call = _Call("download", "GET", where, "other" if own else None, READ)

        def build() -> httpx.Request:
            request = self._http.build_request("GET", url, headers={"Accept": DOWNLOAD_ACCEPT})
            for name in self._cred_headers:
                request.headers.pop(name, None)
            request.headers.update(headers)
            return request

        return await self._send(call, build, stream=True, with_credentials=False)

    # ---- imports ---------------------------------------------------------------------

    async def start_import(
        self,
        owner: str | None,
        folder_id: int,
        package: bytes,
        *,
        restart_recipes: bool,
        include_tags: bool,
        folder_id_for_home_assets: int | None,
    ) -> ImportJob:
        # A duplicate import re-imports the same package and may restart recipes twice:
        # IMPORT retries only answers that refused it (429, 503), never after a timeout.
        params = {"restart_recipes": _flag(restart_recipes), "include_tags": _flag(include_tags)}
        if owner is not None:
            params = {"folder_id": str(int(folder_id)), **params}
        if folder_id_for_home_assets is not None:
            params["folder_id_for_home_assets"] = str(int(folder_id_for_home_assets))
        bucket: Bucket = "dev_imports" if owner is None else "imports"
        call = self._call(
            "import_start", "POST", paths.import_start(owner, folder_id), bucket, IMPORT
        )
        headers = {"Content-Type": "application/octet-stream"}
        return await self._model(call, ImportJob, params=params, content=package, headers=headers)

    async def import_status(self, owner: str | None, import_id: int) -> ImportJob:
        # the developer API's package status shares the "other" bucket
        bucket: Bucket = "other" if owner is None else "import_status"
        call = self._call(
            "import_status", "GET", paths.import_status(owner, import_id), bucket, READ
        )
        return await self._model(call, ImportJob)

    async def wait_import(
        self, owner: str | None, import_id: int, *, since: float | None = None
    ) -> ImportJob:
        return await self._poll(
            f"import {import_id}",
            paths.import_status(owner, import_id),
            lambda: self.import_status(owner, import_id),
            since,
        )

    # ---- customers and folders (a generated Fleet) -----------------------------------

    CUSTOMERS_PER_PAGE = PAGE_SIZE
    _CUSTOMERS = _Call("customers_list", "GET", paths.CUSTOMERS, "customers", READ)

    async def list_customers(self, *, per_page: int = PAGE_SIZE) -> list[Customer]:
        """Every customer of the partner workspace, page by page (`customers` bucket)."""
        return await self._pages(self._CUSTOMERS, Customer, {}, per_page)

    async def customer_page(self, page: int) -> list[Customer]:
        """One page (1-based) of `CUSTOMERS_PER_PAGE` of the partner workspace's customers,
        for a caller that reads several at once and stops once it found what it wants."""
        query = {"page": str(page), "per_page": str(self.CUSTOMERS_PER_PAGE)}
        return (await self._page(self._CUSTOMERS, Customer, query))[1]

    async def list_folders(
        self,
        owner: str | None,
        parent_id: int | None = None,
        *,
        per_page: int = PAGE_SIZE,
        pages: int | None = None,
    ) -> list[Folder]:
        """The folders directly under `parent_id` (None: the top level) of a customer (or,
        owner None, of the developer API's own workspace); `pages` stops after that many."""
        call = self._call("folders_list", "GET", paths.folders(owner), "folders", READ)
        params = {} if parent_id is None else {"parent_id": str(int(parent_id))}
        return await self._pages(call, Folder, params, per_page, pages=pages)

    async def create_folder(self, owner: str, name: str, parent_id: int | None) -> Folder:
        # A second create would leave a twin folder: CREATE retries only when the server
        # certainly did nothing (429, an unsent request). Callers list before creating.
        body: dict[str, Any] = {"name": name}
        if parent_id is not None:
            body["parent_id"] = int(parent_id)
        call = self._call("folder_create", "POST", paths.folders(owner), "folders", CREATE)
        return await self._model(call, Folder, json=body)

    async def _pages(
        self,
        call: _Call,
        model: type[M],
        params: dict[str, str],
        per_page: int,
        *,
        pages: int | None = None,
    ) -> list[M]:
        """`page`/`per_page` until a short page (or `pages` pages); a page that repeats the
        last one (a server ignoring `page`) ends it with an error rather than looping."""
        found: list[M] = []
        previous: Any = None
        for page in range(1, (pages or MAX_PAGES) + 1):
            query = {**params, "page": str(page), "per_page": str(per_page)}
            raw, items = await self._page(call, model, query)
            if raw and raw == previous:
                raise ProtocolError(
                    f"{call.kind}: page {page} repeats page {page - 1} (is `page` ignored?)",
                    method=call.method,
                    path=call.where,
                )
            found += items
            if len(raw) < per_page:
                return found
            previous = raw
        if pages is not None:
            return found
        raise ProtocolError(
            f"{call.kind}: more than {MAX_PAGES} pages", method=call.method, path=call.where
        )

    async def _page(
        self, call: _Call, model: type[M], query: dict[str, str]
    ) -> tuple[list[Any], list[M]]:
        """One page of a list: what Workato sent, and its items read as `model`."""
        raw = _listed(unwrap_result(await self._json(call, params=query)))
        if not isinstance(raw, list):
            raise ProtocolError(
                f"unexpected {call.kind} answer: not a list", method=call.method, path=call.where
            )
        try:
            return raw, [model.model_validate(item) for item in raw]
        except pydantic.ValidationError as exc:
            raise protocol_error(exc, call.kind, call.method, call.where) from exc

    # ---- recipes (the Recipes API) ------------------------------------------------------
    # docs.workato.com/oem/oem-api/recipes.html: a customer's recipes at 2,000 requests a
    # minute (start and stop 1,000), each with its version, running state, stop cause and
    # job counts; docs.workato.com/workato-api/recipes.html: the developer API's own
    # recipes (60 a minute). Lists are paged (per_page at most 100, newest id first).

    RECIPES_PER_PAGE = 100
    MAX_RECIPE_PAGES = 1000  # 100,000 recipes: far past Workato's 5,000 per workspace

    @staticmethod
    def _recipe_buckets(owner: str | None) -> tuple[Bucket, Bucket]:
        """(read bucket, start/stop bucket) of a workspace's recipe calls."""
        return ("dev_recipes", "dev_recipes") if owner is None else ("recipes", "recipe_actions")

    async def list_recipes(
        self, owner: str | None, *, folder_id: int | None = None, running: bool | None = None
    ) -> list[Recipe]:
        """Every recipe of a folder (that folder only: not its subfolders), or of the
        workspace, over every page. A recipe created while paging may appear twice (pages
        count from the newest): it is kept once."""
        read, _ = self._recipe_buckets(owner)
        call = self._call("recipes_list", "GET", paths.recipes(owner), read, READ)
        params = {"per_page": str(self.RECIPES_PER_PAGE)}
        if folder_id is not None:
            params["folder_id"] = str(int(folder_id))
        if running is not None:
            params["running"] = _flag(running)
        found: dict[int, Recipe] = {}
        for page in range(1, self.MAX_RECIPE_PAGES + 1):
            rows = self._recipe_rows(
                call, await self._json(call, params={**params, "page": str(page)})
            )
            for row in rows:
                found.setdefault(row.id, row)
            if len(rows) < self.RECIPES_PER_PAGE:
                return list(found.values())
        raise ProtocolError(
            f"recipe list did not end after {self.MAX_RECIPE_PAGES} pages",
            method=call.method,
            path=call.where,
        )

    @staticmethod
    def _recipe_rows(call: _Call, payload: Any) -> list[Recipe]:
        rows = unwrap_list(payload)
        if rows is None:
            raise ProtocolError(
                "unexpected recipe list answer: no list of recipes in it",
                method=call.method,
                path=call.where,
            )
        try:
            return [Recipe.model_validate(row) for row in rows]
        except pydantic.ValidationError as exc:
            raise protocol_error(exc, "recipes_list", call.method, call.where) from exc

    async def get_recipe(self, owner: str | None, recipe_id: int) -> Recipe:
        read, _ = self._recipe_buckets(owner)
        call = self._call("recipe_view", "GET", paths.recipe(owner, recipe_id), read, READ)
        return await self._model(call, Recipe)

    async def start_recipe(self, owner: str | None, recipe_id: int) -> RecipeAction:
        """Start a recipe; `success: false` (with Workato's reasons) is an answer, not an
        error. Starting a running recipe again changes nothing: retried like a PUT."""
        return await self._recipe_action(owner, recipe_id, "start")

    async def stop_recipe(self, owner: str | None, recipe_id: int) -> RecipeAction:
        return await self._recipe_action(owner, recipe_id, "stop")

    async def _recipe_action(self, owner: str | None, recipe_id: int, action: str) -> RecipeAction:
        _, bucket = self._recipe_buckets(owner)
        where = paths.recipe_action(owner, recipe_id, action)
        call = self._call(f"recipe_{action}", "PUT", where, bucket, WRITE_IDEMPOTENT)
        return await self._model(call, RecipeAction)

    # ---- existence checks (the plan's pre-flight of targets never imported) ------------

    async def customer_exists(self, owner: str) -> bool:
        """Whether Workato knows the managed user: one page of one recipe, in the Recipes
        API's bucket (2,000/minute), which answers 404 for an unknown customer."""
        read, _ = self._recipe_buckets(owner)
        call = self._call("recipes_list", "GET", paths.recipes(owner), read, READ)
        try:
            await self._json(call, params={"per_page": "1"})
        except NotFoundError:
            return False
        return True

    async def folder_exists(self, owner: str | None, folder_id: int) -> bool:
        """Whether the workspace has the folder: one page of one of its subfolders from
        the Folders API (docs.workato.com/oem/oem-api/folders.html), which answers 404 for
        a parent folder it does not have. Outside the scarce RLCM quota (folder_assets).
        A thin check on `list_folders` (one page of one folder, `folders` bucket)."""
        try:
            await self.list_folders(owner, folder_id, per_page=1, pages=1)
        except NotFoundError:
            return False
        return True

    # ---- layers ----------------------------------------------------------------------

    @staticmethod
    def _call(kind: str, method: str, where: str, bucket: Bucket | None, rule: RetryRule) -> _Call:
        return _Call(kind, method, where, bucket, rule)

    async def _model(self, call: _Call, model: type[M], **kwargs: Any) -> M:
        payload = unwrap_result(await self._json(call, **kwargs))
        return parse_model(model, payload, call.method, call.where)

    async def _json(self, call: _Call, **kwargs: Any) -> Any:
        def build() -> httpx.Request:
            return self._http.build_request(call.method, call.where, **kwargs)

        return parse_json(await self._send_api(call, build), call.method, call.where)

    async def _send_api(self, call: _Call, build: Callable[[], httpx.Request]) -> httpx.Response:
        """A call that must answer 2xx: API calls never redirect (only downloads do)."""
        response = await self._send(call, build)
        if not response.is_success:
            raise error_for_response(response, call.method, call.where)
        return response

    async def _send(
        self,
        call: _Call,
        build: Callable[[], httpx.Request],
        *,
        stream: bool = False,
        with_credentials: bool = True,
    ) -> httpx.Response:
        """One call with limiter and retries; returns a 2xx or 3xx answer, else raises.

        A 429 (and a 409 on an import: another import runs in that workspace) is "wait",
        not a failed attempt: it never uses up `max_retries`, only the call's wait budget
        (`rate_limits.max_wait`), which is long enough to wait out an hourly window."""
        attempt = 0
        long_waits = 0
        waiting = _WaitBudget(self.settings)
        while True:
            limiter = None if call.bucket is None else self._limiters.bucket(call.bucket)
            turn = None if limiter is None else await limiter.turn()
            request = build()
            if with_credentials:
                request.headers.update(self._cred_headers)
            if turn is not None:
                await self._mark_start(turn, request)
            self.stats.requests[call.kind] += 1
            try:
                response = await self._send_within(call, request, stream=stream)
            except httpx.TransportError as exc:
                if turn is not None:
                    turn.lost()  # a probe without an answer: the next start probes
                if attempt >= self.settings.max_retries or not call.rule.retries_error(exc):
                    raise self._transport_error(exc, call.method, call.where) from exc
                await self._retry_wait(call, attempt, None, type(exc).__name__)
                attempt += 1
                continue
            finally:
                if turn is not None:
                    self.stats.limiter_wait += turn.waited
            log.debug(
                "request: %s %s status=%s attempt=%s",
                call.method,
                call.where,
                response.status_code,
                attempt + 1,
            )
            if turn is not None and response.status_code != 429:
                turn.answered()
            if response.status_code < 400:
                return response
            if stream:
                await response.aread()
                await response.aclose()
            status = response.status_code
            if status == 429:
                self.stats.rate_limited += 1
            if not call.rule.retries_status(status):
                raise error_for_response(response, call.method, call.where)
            if status == 429 or (status == IMPORT_BUSY and call.kind == "import_start"):
                await self._wait_on_workato(call, response, limiter, turn, waiting)
                continue
            if attempt >= self.settings.max_retries:
                raise error_for_response(response, call.method, call.where)
            long_waits = self._refuse_long_wait(call, response, long_waits)
            await self._retry_wait(call, attempt, response.headers.get("retry-after"), str(status))
            attempt += 1

    async def _send_within(
        self, call: _Call, request: httpx.Request, *, stream: bool
    ) -> httpx.Response:
        """One request within the total deadline (`timeout` counts per read: a server
        trickling a byte at a time would never trip it), its JSON answer read up to
        `max_answer_bytes`. A streamed download gets its headers within the deadline; its
        body has its own cap (`read_capped`)."""
        s = self.settings
        if stream:  # a download: its body is read later, on a connection of its own
            try:
                async with asyncio.timeout(s.request_deadline):
                    return await self._streams.send(request, stream=True)
            except TimeoutError:
                raise DeadlineExceeded(
                    f"no complete answer within {s.request_deadline:g} s", request=request
                ) from None
        lane = await self._lanes.get()
        try:
            async with asyncio.timeout(s.request_deadline):
                response = await lane.send(request, stream=True)
                try:
                    body = await self._read_answer(call, response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise DeadlineExceeded(
                f"no complete answer within {s.request_deadline:g} s", request=request
            ) from None
        finally:
            self._lanes.put_nowait(lane)
        headers = [(k, v) for k, v in response.headers.multi_items() if k not in _BODY_HEADERS]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)

    async def _read_answer(self, call: _Call, response: httpx.Response) -> bytes:
        cap = self.settings.max_answer_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise self._too_large(call, response, cap)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise self._too_large(call, response, cap)
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _too_large(call: _Call, response: httpx.Response, cap: int) -> ProtocolError:
        return ProtocolError(
            f"answer larger than {cap:,} bytes (api.max_answer_bytes)",
            method=call.method,
            path=call.where,
            status=response.status_code,
        )

    async def _wait_on_workato(
        self,
        call: _Call,
        response: httpx.Response,
        limiter: SlidingWindowLimiter | None,
        turn: Turn | None,
        waiting: _WaitBudget,
    ) -> None:
        """A refusal that means "not now": slow the whole bucket (limits.py) and wait
        until it opens, or, with no bucket (the storage host, a busy import), back off."""
        s = self.settings
        asked = retry_after_seconds(response.headers.get("retry-after"))
        delay = None
        if asked is not None:
            # Retry-After is in the server's seconds (never believed beyond an hour and a
            # minute): a simulator played F times faster (`rate_limits.time_scale`) means
            # F times fewer of ours
            delay = min(asked, MAX_RETRY_AFTER) / s.rate_limits.time_scale
            if asked / s.rate_limits.time_scale > waiting.budget:
                # a daily quota spent: waiting out what rlcm may would change nothing
                error = error_for_response(response, call.method, call.where)
                error.message = (
                    f"{error.message}; the server asks to wait {asked:g} s before retrying, "
                    f"longer than rlcm waits on a 429 (rate_limits.max_wait: "
                    f"{s.rate_limits.max_wait:g} s): run again after that"
                )
                raise error
        status = response.status_code
        if limiter is not None and status == 429:
            wait = limiter.throttled(turn, delay, backoff=s.backoff_base)
            sleep = 0.0  # the next turn() waits for the bucket, with every other caller
        else:
            backoff = backoff_delay(
                waiting.count, base=s.backoff_base, cap=s.backoff_max, rand=s.rand
            )
            wait = sleep = delay if delay is not None else backoff
        if not waiting.allows(wait):
            raise error_for_response(response, call.method, call.where)
        self.stats.retries[call.kind] += 1
        log.info(
            "retry: %s %s reason=%s wait=%.1fs (waiting on Workato, not a failed attempt)",
            call.method,
            call.where,
            status,
            wait,
        )
        if sleep > 0:
            await s.sleep(sleep)

    async def _mark_start(self, turn: Turn, request: httpx.Request) -> None:
        """Take the quota slot when the request leaves: now, or from httpcore's hook (just
        before its headers are written, then again once they are)."""
        if not self._traced:
            await turn.start()
            return

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.endswith(".send_request_headers.started"):
                await turn.start()
            elif event.endswith(".send_request_headers.complete"):
                turn.sent()

        request.extensions["trace"] = trace

    def _refuse_long_wait(self, call: _Call, response: httpx.Response, before: int) -> int:
        """A Retry-After longer than `retry_after_max` is waited out (capped) once; asked
        again, the call fails saying how long the server asked to wait, instead of
        sleeping the cap on every attempt (86400 meant 300 s x 5). Returns the count of
        such answers so far."""
        s = self.settings
        asked = retry_after_seconds(response.headers.get("retry-after"))
        if asked is None or asked / s.rate_limits.time_scale <= s.retry_after_max:
            return before
        if before == 0:
            return 1
        error = error_for_response(response, call.method, call.where)
        error.message = (
            f"{error.message}; the server asks to wait {asked:g} s before retrying, longer "
            f"than rlcm waits ({s.retry_after_max:g} s): run again after that"
        )
        raise error

    async def _retry_wait(
        self, call: _Call, attempt: int, retry_after: str | None, reason: str
    ) -> None:
        s = self.settings
        delay = retry_after_seconds(retry_after)
        if delay is not None:
            # Retry-After is in the server's seconds: a simulator played F times faster
            # (`rate_limits.time_scale`) means F times fewer of ours
            delay /= s.rate_limits.time_scale
        else:
            delay = backoff_delay(attempt, base=s.backoff_base, cap=s.backoff_max, rand=s.rand)
        delay = min(delay, s.retry_after_max)
        self.stats.retries[call.kind] += 1
        log.info(
            "retry: %s %s reason=%s attempt=%s wait=%.1fs",
            call.method,
            call.where,
            reason,
            attempt + 2,
            delay,
        )
        await s.sleep(delay)

    def _transport_error(self, exc: httpx.TransportError, method: str, where: str) -> ApiError:
        if isinstance(exc, DeadlineExceeded):
            return ApiTimeoutError(str(exc), method=method, path=where)
        if isinstance(exc, httpx.TimeoutException):
            text = f"no answer within {self.settings.request_timeout:g} s ({type(exc).__name__})"
            return ApiTimeoutError(text, method=method, path=where)
        text = redact(f"connection failed: {type(exc).__name__}: {exc}".rstrip(": "))
        return ConnectionFailedError(text, method=method, path=where)

    async def _poll(
        self,
        what: str,
        where: str,
        status: Callable[[], Awaitable[Job]],
        since: float | None = None,
    ) -> Job:
        """Poll until completed/failed: interval grows 1.5x to max_interval, overall timeout.
        The timeout names the status call (GET `where`) that kept answering "not yet".

        `since`: the clock when the job's start was answered. The first poll goes one
        interval after it, so the time spent meanwhile (writing the job id to state)
        is not waited a second time."""
        poll = self.settings.poll
        clock, sleep = self.settings.clock, self.settings.sleep
        started = clock() if since is None else since
        deadline = started + poll.timeout
        interval = poll.interval
        unreadable = 0
        wake = started + interval
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                raise ApiTimeoutError(
                    f"{what} did not finish within {poll.timeout:g} s", method="GET", path=where
                )
            await sleep(max(0.0, min(wake, deadline) - clock()))
            try:
                job = await status()
            except ProtocolError:
                # an answer that cannot be read (a proxy's page, a cut-off body) says
                # nothing about the job: poll again, up to max_retries in a row
                unreadable += 1
                if unreadable > self.settings.max_retries:
                    raise
                wake = clock() + interval
                continue
            unreadable = 0
            if job.done:
                return job
            interval = min(interval * 1.5, poll.max_interval)
            wake = clock() + interval

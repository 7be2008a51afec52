"""Answers of the RLCM API as typed models: the edge where JSON becomes ours.

Tolerant of every shape and quirk in the documents: `{"result": ...}` wrapped or not,
`download_url` null or the string "null", a wrong `operation_type` on imports (never
relied upon), manifest views with or without `assets`, unknown asset types (kept, with
one warning per type), extra fields (ignored, or kept in `Asset.extra`: folder_assets
may carry a `status` of `added`, `updated` or `no change`), job statuses `processing`
and `in_progress` alike (Workato's OpenAPI enum has both; its own CLI polls through
either), a status rlcm does
not know (still running, with one warning; see `JobStatus`), `recipe_status` entries
without an `id` (the OpenAPI makes it optional: reported by position). Anything else that
does not fit - a wrong type - fails validation, and the client reports it as a
ProtocolError naming the call.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from reconciler.facts import IMPORT_RESULT_FAILURES, IMPORT_RESULT_SUCCESSES, KNOWN_ASSET_TYPES

__all__ = [
    "IMPORT_RESULT_FAILURES",
    "IMPORT_RESULT_SUCCESSES",
    "KNOWN_ASSET_TYPES",
    "Asset",
    "Customer",
    "Folder",
    "ImportJob",
    "JobStatus",
    "ManifestBody",
    "ManifestView",
    "PackageJob",
    "Recipe",
    "RecipeAction",
    "RecipeStatus",
    "unwrap_list",
    "unwrap_result",
]

log = logging.getLogger(__name__)


# Any text: `completed` and `failed` end a job; `in_progress` and `processing` (the
# OpenAPI's enum of exports and imports) mean running, and so does a value rlcm does not
# know, polled on until the poll timeout rather than taken as failure (SPEC, "Where
# Workato's sources disagree").
JobStatus = str
FINISHED_STATUSES = frozenset({"completed", "failed"})
RUNNING_STATUSES = frozenset({"in_progress", "processing"})

_warned_asset_types: set[str] = set()
_warned_statuses: set[str] = set()


def _job_done(status: str) -> bool:
    if status in FINISHED_STATUSES:
        return True
    if status not in RUNNING_STATUSES and status not in _warned_statuses:
        _warned_statuses.add(status)
        log.warning(
            "job: status=%s is not known to rlcm; taking it as still running and polling on",
            status,
        )
    return False


def unwrap_result(body: Any) -> Any:
    """The payload of an answer, whether or not it is wrapped in `{"result": ...}`."""
    if isinstance(body, dict) and "result" in body and isinstance(body["result"], dict | list):
        return body["result"]
    return body


def unwrap_list(body: Any) -> list[Any] | None:
    """The rows of a list answer: wrapped in `result` (the embedded Recipes API's sample),
    in `items` (the developer API's), either of them inside the other, or bare. None when
    the answer holds no list at all."""
    for _ in range(3):
        if isinstance(body, list):
            return body
        if not isinstance(body, dict):
            return None
        inner = next((body[k] for k in ("result", "items") if k in body), None)
        if inner is None:
            return None
        body = inner
    return None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Asset(_Answer):
    """One asset of a folder or manifest. Fields Workato adds are kept in `extra`."""

    id: int
    type: str
    name: str
    version: int | None = None
    folder: str = ""
    absolute_path: str = ""
    root_folder: bool = False
    unreachable: bool = False
    zip_name: str | None = None
    checked: bool = True
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _keep_extra(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        extra = {k: v for k, v in data.items() if k not in known}
        return {**{k: v for k, v in data.items() if k in known}, "extra": extra}

    @field_validator("folder", "absolute_path", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("type")
    @classmethod
    def _warn_unknown_type(cls, value: str) -> str:
        if value not in KNOWN_ASSET_TYPES and value not in _warned_asset_types:
            _warned_asset_types.add(value)  # new types appear over time: pass them through
            log.warning("asset: type=%s is not known to rlcm; passing it through", value)
        return value

    def manifest_entry(self) -> dict[str, Any]:
        """This asset as a manifest `assets` entry: what folder_assets answered, as is."""
        fields = self.model_dump(exclude={"extra"})
        # folder_assets' `status` (added, updated, no change) says how the folder changed,
        # not what the manifest holds: kept in `extra`, never sent back
        extra = {k: v for k, v in self.extra.items() if k != "status"}
        return {**extra, **fields}


class ManifestBody(BaseModel):
    """The payload of create/update manifest; sent wrapped as `{"export_manifest": ...}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    assets: list[dict[str, Any]] | None = None
    folder_id: int | None = None
    include_tags: bool | None = None
    auto_generate_assets: bool | None = None
    include_test_cases: bool | None = None
    include_data: bool | None = None
    auto_run: bool | None = None

    def wire(self) -> dict[str, Any]:
        return {"export_manifest": self.model_dump(exclude_none=True)}


class ManifestView(_Answer):
    id: int
    name: str
    status: str = "working"  # working | archived; another value is kept as is
    folder_id: int | None = None
    include_tags: bool | None = None
    assets: list[Asset] | None = None  # some answers carry them, some do not
    project_path: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    deleted_at: str | None = None
    last_exported_at: str | None = None

    @property
    def archived(self) -> bool:
        return self.status == "archived" or self.deleted_at is not None


def _text_or_none(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)  # an error object: keep it readable


ErrorText = Annotated[str | None, BeforeValidator(_text_or_none)]


class PackageJob(_Answer):
    """An export (or developer-API package) job."""

    id: int
    operation_type: str | None = None  # wrong in some samples: never relied upon
    status: JobStatus
    export_manifest_id: int | None = None
    download_url: str | None = None
    error: ErrorText = None

    @field_validator("download_url", mode="before")
    @classmethod
    def _null_string(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"", "null"}:
            return None
        return value

    @property
    def done(self) -> bool:
        return _job_done(self.status)


class RecipeStatus(_Answer):
    id: int | None = None  # optional in the OpenAPI: such an entry is named by position
    import_result: str
    position: int = 0  # 1-based place in `recipe_status`, set by ImportJob

    @property
    def succeeded(self) -> bool:
        """Only the known successes count; an unknown value is shown verbatim as a failure."""
        return self.import_result in IMPORT_RESULT_SUCCESSES


class ImportJob(_Answer):
    id: int
    operation_type: str | None = None  # "export" in some import samples: ignored
    status: JobStatus
    error: ErrorText = None
    recipe_status: list[RecipeStatus] = Field(default_factory=list)

    @field_validator("recipe_status", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, list):
            return [
                {**item, "position": index} if isinstance(item, dict) else item
                for index, item in enumerate(value, start=1)
            ]
        return value

    @property
    def done(self) -> bool:
        return _job_done(self.status)

    @property
    def failed_recipes(self) -> list[RecipeStatus]:
        return [r for r in self.recipe_status if not r.succeeded]

    @property
    def succeeded(self) -> bool:
        """Completed, and every recipe that was reported succeeded."""
        return self.status == "completed" and not self.failed_recipes


def _environment_ids(value: Any) -> Any:
    """`environments` as {"test": id, "prod": id}, from the list the Environments page
    shows ([{id, environment_type}], the type also seen as `type`, `environment`, `name`)
    or from a mapping; None and [] mean none provisioned."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if not isinstance(value, list):
        return value  # fails validation: a shape nobody documents
    out: dict[str, Any] = {}
    for item in value:
        if not isinstance(item, dict):
            return value
        kind = next(
            (item[k] for k in ("environment_type", "type", "environment", "name") if k in item),
            None,
        )
        if isinstance(kind, str) and "id" in item:
            out[kind.strip().lower()] = item["id"]
    return out


class Customer(_Answer):
    """One entry of GET /api/managed_users (docs.workato.com/oem/oem-api/managed-users)."""

    id: int
    external_id: str | None = None
    name: str | None = None
    plan_id: str | None = None
    environments: Annotated[dict[str, int], BeforeValidator(_environment_ids)] = Field(
        default_factory=dict
    )

    @field_validator("external_id", "plan_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def ref(self) -> str:
        """How rlcm addresses it: `E` + external id when it has one, else the number."""
        return f"E{self.external_id}" if self.external_id else str(self.id)

    @property
    def has_environments(self) -> bool:
        return bool(self.environments)


class Folder(_Answer):
    """One folder of a customer workspace (docs.workato.com/oem/oem-api/folders)."""

    id: int
    name: str
    parent_id: int | None = None


class Recipe(_Answer):
    """A recipe as the Recipes API lists it: version, running state and job counts.

    docs.workato.com/oem/oem-api/recipes.html (embedded) and
    docs.workato.com/workato-api/recipes.html (developer API); fields rlcm does not use
    are ignored, missing counts read as 0.
    """

    id: int
    name: str
    folder_id: int | None = None
    running: bool = False
    version_no: int | None = None
    updated_at: str | None = None
    job_succeeded_count: int = 0
    job_failed_count: int = 0
    last_run_at: str | None = None
    stopped_at: str | None = None
    stop_cause: str | None = None

    @field_validator("job_succeeded_count", "job_failed_count", mode="before")
    @classmethod
    def _null_count(cls, value: Any) -> Any:
        return 0 if value is None else value


def _reasons(value: Any) -> list[str]:
    """`code_errors` / `config_errors` as readable sentences, whatever their shape (strings,
    objects with a message, nested lists such as `[step, [[field, message]]]`)."""
    if value is None or value in ([], {}):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        message = value.get("message") or value.get("error")
        if isinstance(message, str):
            return [message]
        return [json.dumps(value, sort_keys=True)]
    if isinstance(value, list):
        if all(isinstance(v, str | int | float) for v in value):
            return [": ".join(str(v) for v in value)]
        if len(value) == 2 and isinstance(value[0], str | int):  # [where, what is wrong there]
            return [f"{value[0]}: {text}" for text in _reasons(value[1])]
        return [text for item in value for text in _reasons(item)]
    return [str(value)]


class RecipeAction(_Answer):
    """The answer of a recipe start or stop: `success`, and why not when it is false."""

    success: bool = True
    code_errors: Any = None
    config_errors: Any = None

    @property
    def reasons(self) -> list[str]:
        found = _reasons(self.config_errors) + _reasons(self.code_errors)
        return found or ["Workato gave no reason"]

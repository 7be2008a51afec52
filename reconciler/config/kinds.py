"""The six YAML kinds as pydantic models: the shape of one document, nothing more.

Cross-document rules (references, cycles, waves, duplicates) live in resolve.py, which
can point at exact positions. Every field has a description because the JSON Schema
generated from these models is the format's reference for editors and docs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    WithJsonSchema,
)

from reconciler.facts import DATA_CENTERS, KNOWN_ASSET_TYPES

__all__ = [
    "DATA_CENTERS",
    "KIND_MODELS",
    "KNOWN_ASSET_TYPES",
    "WAVE_TAGS",
    "ApiModel",
    "AssetModel",
    "AutoGenerateModel",
    "ConfigModel",
    "FleetCustomerModel",
    "FleetDoc",
    "FleetSelectModel",
    "HealthModel",
    "ManifestDoc",
    "PollModel",
    "QuotaModel",
    "RateLimitsModel",
    "RolloutDoc",
    "SourceDoc",
    "StateDoc",
    "TargetDoc",
    "WaveModel",
    "WorkspaceDoc",
]


# External ids are free text chosen by the partner (spaces, slashes, `@`, any script):
# anything after the `E` is valid; the client sends it as one URL-encoded path segment.
CUSTOMER_PATTERN = r"^([0-9]+|E.+)$"
ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
NAME_PATTERN = r"^\S(.*\S)?$"
# `@` separates manifest and target in addresses and state keys (`import.NAME@TARGET`):
# in a manifest name, `a@b` -> `c` and `a` -> `b@c` would share one key
MANIFEST_NAME_PATTERN = r"^[^\s@]([^@]*[^\s@])?$"
URL_PATTERN = r"^(https?|sim)://\S*$"
# `Integrations/CRM`: folder names joined by `/`, none empty, no leading or trailing `/`
FOLDER_PATTERN = r"^[^/\s]([^/]*[^/\s])?(/[^/\s]([^/]*[^/\s])?)*$"
SHARE_PATTERN = r"^[0-9]+(\.[0-9]+)?%$"
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"

# Human wording for pattern mismatches, keyed by pattern (used in error messages).
PATTERN_HINTS: dict[str, str] = {
    CUSTOMER_PATTERN: "a numeric managed-user id or E followed by an external id (E-acme-001)",
    ENV_PATTERN: "an environment variable name (letters, digits, _), never the secret itself",
    NAME_PATTERN: "a non-empty name without leading or trailing spaces",
    MANIFEST_NAME_PATTERN: (
        "a non-empty name without leading or trailing spaces and without @ (it separates "
        "manifest and target in addresses)"
    ),
    URL_PATTERN: "a URL starting with https://, http:// or sim://",
    FOLDER_PATTERN: "folder names joined by / (Integrations/CRM), without empty names",
    SHARE_PATTERN: "a count (5) or a percentage of the wave's targets (10%)",
    DURATION_PATTERN: "a duration such as 2s, 90s, 15m, 1h or 1h30m",
}


def _customer_to_str(value: Any) -> Any:
    """A bare YAML int (`customer: 91928`) is a numeric managed-user id: keep it as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Name = Annotated[StrictStr, Field(pattern=NAME_PATTERN)]
FolderPath = Annotated[StrictStr, Field(pattern=FOLDER_PATTERN)]
Environment = Literal["dev", "test", "prod"]
Globs = Annotated[list[Annotated[StrictStr, Field(min_length=1)]], Field(min_length=1)]
GlobOrGlobs = Annotated[StrictStr, Field(min_length=1)] | Globs
ManifestName = Annotated[StrictStr, Field(pattern=MANIFEST_NAME_PATTERN)]
EnvName = Annotated[StrictStr, Field(pattern=ENV_PATTERN)]
FolderId = Annotated[StrictInt, Field(ge=1)]
# the running state a target's imported recipes should have after apply
RecipesState = Literal["running", "stopped", "unchanged"]
PositiveNumber = Annotated[StrictFloat, Field(gt=0)]
CustomerId = Annotated[
    StrictStr,
    BeforeValidator(_customer_to_str),
    Field(pattern=CUSTOMER_PATTERN),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": CUSTOMER_PATTERN},
                {"type": "integer", "minimum": 0},
            ]
        }
    ),
]


class ConfigModel(BaseModel):
    """Base of every config model: unknown keys are errors, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class QuotaModel(ConfigModel):
    """A quota as Workato states it: so many requests per minute or per hour, counted in
    a sliding window or in fixed windows that reset at the top of the minute or hour."""

    requests: PositiveNumber = Field(description="Requests allowed per window.")
    per: Literal["minute", "hour"] = Field("minute", description="Length of the window.")
    window: Literal["sliding", "fixed"] = Field(
        "sliding",
        description=(
            "sliding: any 60 (3600) seconds; fixed: the count resets at the top of the minute "
            '(hour), as in "denied until the following hour".'
        ),
    )


def _quota_branch(value: Any) -> str:
    return "stated-quota" if isinstance(value, dict) else "per-minute"


# A number (requests per minute, as before) or a mapping; the discriminator validates only
# the branch the YAML chose, so an error speaks of that one (validation.py drops the tag).
QuotaValue = Annotated[
    Annotated[PositiveNumber, Tag("per-minute")] | Annotated[QuotaModel, Tag("stated-quota")],
    Discriminator(_quota_branch),
]
UNION_TAGS = frozenset({"per-minute", "stated-quota"})

_QUOTA_HINT = (
    " A number is requests per minute; or {requests: N, per: minute|hour, window: "
    "sliding|fixed}. A belief: rlcm learns the real rate from Workato's 429s."
)


class RateLimitsModel(ConfigModel):
    """Quota of each API bucket; omitted ones use Workato's published quotas."""

    imports: QuotaValue | None = Field(
        None, description="Embedded imports (default 1000 per minute)." + _QUOTA_HINT
    )
    import_status: QuotaValue | None = Field(
        None, description="Embedded import status polls (default 1000 per minute)." + _QUOTA_HINT
    )
    other: QuotaValue | None = Field(
        None,
        description="Every other RLCM call, one shared bucket (default 60 per minute)."
        + _QUOTA_HINT,
    )
    dev_imports: QuotaValue | None = Field(
        None,
        description="Developer-API imports (default 500 per hour, i.e. 8.33 per minute)."
        + _QUOTA_HINT,
    )
    max_wait: PositiveNumber | None = Field(
        None,
        description=(
            "Longest total wait of one request on 429s (rate limited: wait, never a failed "
            "attempt) before it fails, in seconds (default 7200: an hourly window and more)."
        ),
    )
    customers: PositiveNumber | None = Field(
        None,
        description="Listing customers (a generated Fleet), requests per minute (default 60).",
    )
    folders: PositiveNumber | None = Field(
        None,
        description=(
            "Folders API: listing and creating customer folders (Fleet `folder` paths) and "
            "the plan's check that a new target's folder exists, requests per minute "
            "(default 60)."
        ),
    )
    recipes: PositiveNumber | None = Field(
        None,
        description="Embedded Recipes API list and get, requests per minute (default 2000).",
    )
    recipe_actions: PositiveNumber | None = Field(
        None,
        description="Embedded Recipes API start and stop, requests per minute (default 1000).",
    )
    dev_recipes: PositiveNumber | None = Field(
        None,
        description="Developer-API recipe list, start and stop, requests per minute (default 60).",
    )
    time_scale: PositiveNumber | None = Field(
        None,
        description=(
            "Divide every quota window by this (default 1). Only for a simulator served with "
            "`rlcm sim serve --time-scale N`, whose minute lasts 60/N seconds."
        ),
    )


class PollModel(ConfigModel):
    """How export and import jobs are polled until they finish."""

    interval: PositiveNumber | None = Field(
        None, description="Seconds before the first status poll (default 2)."
    )
    max_interval: PositiveNumber | None = Field(
        None,
        description="Longest wait between polls, in seconds, as polling backs off (default 15).",
    )
    timeout: PositiveNumber | None = Field(
        None, description="Seconds after which one job is given up with an error (default 3600)."
    )


class RetryModel(ConfigModel):
    """How failed requests are retried (only where a retry cannot do anything twice)."""

    attempts: Annotated[StrictInt, Field(ge=0, le=20)] | None = Field(
        None, description="Retries after the first try of one request (default 5)."
    )
    backoff: PositiveNumber | None = Field(
        None, description="Seconds before the first retry, doubling after each (default 0.5)."
    )
    max_backoff: PositiveNumber | None = Field(
        None, description="Longest wait between two tries, in seconds (default 30)."
    )


class ApiModel(ConfigModel):
    """Where the API is and which environment variables hold the credentials."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["base_url"], "not": {"required": ["data_center"]}},
                {"required": ["data_center"], "not": {"required": ["base_url"]}},
            ],
            "if": {"properties": {"auth": {"const": "legacy"}}, "required": ["auth"]},
            "then": {"required": ["email_env"]},
        }
    )

    base_url: Annotated[StrictStr, Field(pattern=URL_PATTERN)] | None = Field(
        None,
        description=(
            "API base URL, e.g. https://www.workato.com, or sim://DIR for the built-in "
            "simulator persisted in DIR (relative to this file's directory). "
            "Give either base_url or data_center."
        ),
    )
    data_center: Literal["us", "eu", "jp", "sg", "au", "il", "kr", "cn", "trial"] | None = Field(
        None,
        description=(
            "Workato data center whose API to use: us (www.workato.com), eu, jp, sg, au, il, "
            "kr (app.<dc>.workato.com), cn (app.workatoapp.cn) or trial "
            "(app.trial.workato.com). "
            "Give either base_url or data_center."
        ),
    )
    auth: Literal["bearer", "legacy"] = Field(
        "bearer",
        description=(
            "bearer: Authorization header with the API token. legacy: x-user-email and "
            "x-user-token headers (retired by Workato in 2025; needs email_env)."
        ),
    )
    token_env: EnvName = Field(
        "WORKATO_API_TOKEN",
        description="Name of the environment variable holding the API token (never the token).",
    )
    email_env: EnvName | None = Field(
        None,
        description="Name of the environment variable holding the user email; legacy auth only.",
    )
    rate_limits: RateLimitsModel | None = Field(
        None, description="Request rate per quota bucket; defaults are Workato's quotas."
    )
    timeout: PositiveNumber | None = Field(
        None, description="Request timeout in seconds (default 40, Workato's own limit)."
    )
    deadline: PositiveNumber | None = Field(
        None,
        description="Total seconds one request may take, answer included (default 120): a "
        "server that trickles its answer is cut off (timeout counts per read).",
    )
    max_answer_bytes: Annotated[StrictInt, Field(ge=1024)] | None = Field(
        None,
        description="Largest JSON answer read, in bytes (default 64 MiB); packages have "
        "their own cap.",
    )
    poll: PollModel | None = Field(None, description="Polling of asynchronous export/import jobs.")
    max_package_mb: PositiveNumber | None = Field(
        None,
        description=(
            "Largest package rlcm downloads or imports, in MB (default 100, the cap of "
            "Workato's import guide; an older page says 30)."
        ),
    )
    retry: RetryModel | None = Field(
        None, description="Retries of failed requests; defaults suit Workato's quotas."
    )


class WorkspaceDoc(ConfigModel):
    """An API endpoint and its credentials; several may exist."""

    kind: Literal["Workspace"] = Field(description="Document kind.")
    name: Name = Field(description="Name other documents use to refer to this workspace.")
    api: ApiModel = Field(description="API endpoint, authentication and limits.")


class SourceDoc(ConfigModel):
    """Where manifests live and packages are exported from; exactly one per config."""

    kind: Literal["Source"] = Field(description="Document kind.")
    workspace: Name = Field(description="Name of the Workspace the source lives in.")
    managed_user: CustomerId | None = Field(
        None,
        description=(
            "Managed user (numeric id or E + external id) holding the template folders; "
            "omit for the workspace's own environment (developer API)."
        ),
    )


class AssetModel(ConfigModel):
    """An asset of a manifest, named as reviewers read it."""

    type: Annotated[StrictStr, Field(min_length=1)] = Field(
        description=(
            "Asset type: recipe, connection, lookup_table, workato_db_table, account_property, "
            "project_property, workato_schema, workato_template, lcap_app, lcap_page, "
            "custom_adapter, topic, api_group, api_endpoint; other types pass with a warning."
        )
    )
    name: Annotated[StrictStr, Field(min_length=1)] = Field(
        description="Asset name as shown in Workato."
    )
    version: Annotated[StrictInt, Field(ge=1)] | None = Field(
        None, description="Pinned version; omit to always export the latest."
    )


class AutoGenerateModel(ConfigModel):
    """Let Workato pick every asset of the folder (and what they depend on)."""

    include_test_cases: StrictBool = Field(False, description="Include recipe test cases.")
    include_data: StrictBool = Field(False, description="Include data (e.g. lookup table rows).")


class ManifestDoc(ConfigModel):
    """An export manifest that should exist in the source workspace."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["assets"], "not": {"required": ["auto_generate"]}},
                {"required": ["auto_generate"], "not": {"required": ["assets"]}},
            ]
        }
    )

    kind: Literal["Manifest"] = Field(description="Document kind.")
    name: ManifestName = Field(
        description="The manifest's name in Workato; unique in the config; no @."
    )
    folder_id: FolderId = Field(description="Source folder the manifest exports from.")
    include_tags: StrictBool = Field(False, description="Export the assets' tags too.")
    depends_on: list[Name] = Field(
        default_factory=list,
        description="Manifests imported before this one on every target that lists them.",
    )
    assets: Annotated[list[AssetModel], Field(min_length=1)] | None = Field(
        None, description="The assets to export, by type and name. Give assets or auto_generate."
    )
    auto_generate: AutoGenerateModel | None = Field(
        None, description="Export the whole folder as Workato picks it. Give assets or this."
    )


# Settings of a Target that a Fleet gives all its customers, each defined once here. Each
# class declares them where its keys stand: inherited from a base class they would come
# first, and so move in the schema, the configuration reference and the order of errors.
FolderByPath = Annotated[
    FolderPath | None,
    Field(
        description=(
            "Folder by path in the customer's workspace (`Integrations/CRM`), resolved through "
            "the Embedded folders API and cached in state; instead of folder_id."
        ),
    ),
]
CreateFolders = Annotated[
    StrictBool,
    Field(description="Create the folders of `folder` that are missing, during apply."),
]
EnvironmentOrList = Annotated[
    Environment | Annotated[list[Environment], Field(min_length=1)] | None,
    Field(
        description=(
            "Embedded Environment(s) to import into: dev, test or prod, or a list: one target "
            "per environment (address suffixed `_ENV`), each in wave ENV (WAVE-ENV when a "
            "wave is set; without a Rollout these waves follow in list order). Addresses the "
            "customer's `:id_test`-style workspace; test and prod need Environments provisioned."
        ),
    ),
]
EnvironmentList = Annotated[
    Annotated[list[Environment], Field(min_length=1)] | None,
    Field(description="The same as `environment` with a list (give one of the two)."),
]
RestartRecipes = Annotated[
    StrictBool,
    Field(description="Restart running recipes that the import changes (else such imports fail)."),
]
IncludeTags = Annotated[StrictBool, Field(description="Import the packages' tags.")]
RecipesAfterApply = Annotated[
    RecipesState,
    Field(
        description=(
            "Running state of the imported recipes after apply: `running` starts those that "
            "are not running, `stopped` stops those that are, `unchanged` leaves them alone."
        ),
    ),
]


class TargetDoc(ConfigModel):
    """One customer folder (or one own-workspace folder) and the manifests it should run."""

    kind: Literal["Target"] = Field(description="Document kind.")
    name: Name | None = Field(
        None,
        description=(
            "Target address; default CUSTOMER/FOLDER_ID, or self/FOLDER_ID without customer."
        ),
    )
    workspace: Name = Field(description="Workspace the target folder is in.")
    customer: CustomerId | None = Field(
        None,
        description=(
            "Managed user (numeric id or E + external id); omit for an own-workspace folder."
        ),
    )
    folder_id: FolderId | None = Field(
        None, description="Folder the packages are imported into (or give `folder`)."
    )
    folder: FolderByPath = None
    create_folders: CreateFolders = False
    environment: EnvironmentOrList = None
    environments: EnvironmentList = None
    manifests: Annotated[list[Name], Field(min_length=1)] = Field(
        description="Manifests to import; each one's depends_on must be listed too."
    )
    restart_recipes: RestartRecipes = False
    include_tags: IncludeTags = False
    folder_id_for_home_assets: FolderId | None = Field(
        None, description="Folder for assets that live in the source's home folder."
    )
    wave: Name | None = Field(None, description='Rollout wave of this target (default "default").')
    recipes: RecipesAfterApply = "unchanged"


class FleetCustomerModel(ConfigModel):
    """One customer of a fleet; any key given here overrides the fleet's setting."""

    customer: CustomerId = Field(description="Managed user (numeric id or E + external id).")
    folder_id: FolderId | None = Field(
        None, description="Folder the packages are imported into (else the fleet's `folder`)."
    )
    folder: FolderPath | None = Field(None, description="Overrides the fleet's folder path.")
    name: Name | None = Field(None, description="Target address; default CUSTOMER/FOLDER_ID.")
    folder_id_for_home_assets: FolderId | None = Field(
        None, description="Folder for assets that live in the source's home folder."
    )
    manifests: Annotated[list[Name], Field(min_length=1)] | None = Field(
        None, description="Overrides the fleet's manifests."
    )
    restart_recipes: StrictBool | None = Field(
        None, description="Overrides the fleet's restart_recipes."
    )
    include_tags: StrictBool | None = Field(None, description="Overrides the fleet's include_tags.")
    wave: Name | None = Field(None, description="Overrides the fleet's wave.")
    recipes: RecipesState | None = Field(None, description="Overrides the fleet's recipes.")


class FleetSelectModel(ConfigModel):
    """Which of Workato's customers a generated fleet takes; every key given must match."""

    external_id: GlobOrGlobs | None = Field(
        None,
        description=(
            "Glob(s) over the customer's external id as Workato keeps it, without the `E` "
            "rlcm puts before it (`A23*` matches customer EA2300)."
        ),
    )
    name: GlobOrGlobs | None = Field(None, description="Glob(s) over the customer's name.")
    plan_id: GlobOrGlobs | None = Field(None, description="Plan id(s) (globs allowed).")
    exclude: GlobOrGlobs | None = Field(
        None,
        description=(
            "Customers left out: globs over `E` + external id, the numeric id, or the name."
        ),
    )


class FleetDoc(ConfigModel):
    """Many customers sharing settings; each becomes a Target."""

    kind: Literal["Fleet"] = Field(description="Document kind.")
    name: Name = Field(description="Fleet name (a label; unique in the config).")
    workspace: Name = Field(description="Workspace the customers belong to.")
    manifests: Annotated[list[Name], Field(min_length=1)] = Field(
        description="Manifests every customer gets; each one's depends_on must be listed too."
    )
    restart_recipes: RestartRecipes = False
    include_tags: IncludeTags = False
    wave: Name | None = Field(
        None, description='Rollout wave of the customers (default "default").'
    )
    recipes: RecipesAfterApply = "unchanged"
    customers: Annotated[list[FleetCustomerModel], Field(min_length=1)] | None = Field(
        None,
        description=(
            "The customers, each a target named CUSTOMER/FOLDER_ID (CUSTOMER/FOLDER with a "
            "folder path) unless it has a name. With from_workato: overrides for listed "
            "customers."
        ),
    )
    from_workato: FleetSelectModel | None = Field(
        None,
        description=(
            "List the customers from Workato (GET /api/managed_users) instead of by hand; "
            "each matching customer becomes a target on every plan."
        ),
    )
    folder: FolderByPath = None
    create_folders: CreateFolders = False
    environment: EnvironmentOrList = None
    environments: EnvironmentList = None


def _share_check(minimum: int) -> Any:
    """A count of targets (at least `minimum`), or a percentage of a wave's targets."""

    def check(value: Any) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < minimum:
                raise ValueError(f"must be at least {minimum}, got {value}")
            return value
        if isinstance(value, str) and re.match(SHARE_PATTERN, value):
            percent = float(value[:-1])
            if percent > 100 or percent < (1e-9 if minimum else 0):
                low = "above 0%" if minimum else "0%"
                raise ValueError(f"a percentage must be {low} to 100%, got {value}")
            return value
        shown = f'"{value}"' if isinstance(value, str) else type(value).__name__
        raise ValueError(f"expected {PATTERN_HINTS[SHARE_PATTERN]}, got {shown}")

    return check


def _share_schema(minimum: int) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "integer", "minimum": minimum},
            {"type": "string", "pattern": SHARE_PATTERN},
        ]
    }


Share = Annotated[int | str, PlainValidator(_share_check(0)), WithJsonSchema(_share_schema(0))]
BatchSize = Annotated[int | str, PlainValidator(_share_check(1)), WithJsonSchema(_share_schema(1))]

# Tags of the union of a plain wave name and a wave with a gate; validation.py drops them
# from error paths so that positions point into the YAML.
WAVE_TAGS = ("plain-wave", "wave-gate")


def _wave_tag(value: Any) -> str:
    return WAVE_TAGS[1] if isinstance(value, dict) else WAVE_TAGS[0]


class HealthModel(ConfigModel):
    """Conditions on the recipes of a wave's targets, checked when its bake time ends."""

    recipes_running: StrictBool = Field(
        True,
        description=(
            "Every recipe that was running after the import (or was started by rlcm) is "
            "still running (default true)."
        ),
    )
    no_error_stops: StrictBool = Field(
        True,
        description=(
            "No recipe of the target stopped with an error cause (Workato's stop_cause, "
            "e.g. trigger_errors_limit) since the import (default true)."
        ),
    )
    max_new_failed_jobs: Annotated[StrictInt, Field(ge=0)] | None = Field(
        None,
        description=(
            "At most this many new failed jobs per target on its recipes since the import; "
            "omit for no limit."
        ),
    )


class WaveModel(ConfigModel):
    """One wave with its gate: how many of its targets may fail before later waves stop."""

    name: Name = Field(description="Wave name, as targets' `wave` keys use it.")
    max_failures: Share = Field(
        0,
        description="Failed targets the wave may have and still let later waves start (default 0).",
    )
    batches: Annotated[list[BatchSize], Field(min_length=1)] | None = Field(
        None,
        description=(
            "Split the wave into batches that run one after another, each gated like a wave "
            "(max_failures counted over the wave's targets run so far): cumulative sizes, "
            "each a count or a percentage of the wave's targets in config order, e.g. "
            "[1, 10%, 50%, 100%]; targets left after the last size form one more batch."
        ),
    )
    bake: Annotated[StrictStr, Field(pattern=DURATION_PATTERN)] | None = Field(
        None,
        description=(
            "Time to wait after the wave's imports before a later wave starts, e.g. 15m; "
            "its health conditions are checked at the end. A later `apply --wave`, and the "
            "next apply after one stopped at --max-duration before the bake's end, wait "
            "for what is left of it."
        ),
    )
    health: HealthModel | None = Field(
        None,
        description=(
            "Recipe health checked at the end of the bake (these defaults when bake is "
            "given without it); a target that fails it counts against max_failures."
        ),
    )


class RolloutDoc(ConfigModel):
    """Order and pace of imports; at most one per config."""

    kind: Literal["Rollout"] = Field(description="Document kind.")
    waves: Annotated[
        list[
            Annotated[
                Annotated[Name, Tag(WAVE_TAGS[0])] | Annotated[WaveModel, Tag(WAVE_TAGS[1])],
                Discriminator(_wave_tag),
            ]
        ],
        Field(min_length=1),
    ] = Field(
        description=(
            "Waves in order, each a name or a mapping with a gate ({name: main, "
            "max_failures: 5%}); a wave starts only when every earlier wave ended within "
            "its max_failures. Every wave used by a target must be listed (a target "
            'without wave is in "default").'
        )
    )
    max_parallel: Annotated[StrictInt, Field(ge=1)] = Field(
        8, description="Target imports running at once (default 8)."
    )
    halt_after_failures: Annotated[StrictInt, Field(ge=1)] | None = Field(
        None,
        description=(
            "Emergency brake: once this many targets failed in one apply, no further target "
            "starts anywhere, in this wave or later ones; omit for none (wave gates still apply)."
        ),
    )
    safety: SafetyDoc | None = Field(
        None,
        description=(
            "Thresholds above which `rlcm apply` needs --force (deleting manifests always does)."
        ),
    )


class SafetyDoc(ConfigModel):
    """When a plan is too big to apply without --force, as octoDNS's safety thresholds."""

    max_first_wave_share: Annotated[float, Field(gt=0, le=1)] = Field(
        0.25,
        description=(
            "Largest share of already-deployed targets that the first wave re-importing into "
            "them may touch (default 0.25): a rollout to existing customers should start "
            "with a canary wave."
        ),
    )
    min_existing_targets: Annotated[StrictInt, Field(ge=0)] = Field(
        10,
        description="The share rule applies only from this many deployed targets (default 10).",
    )


SQL_NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
PATTERN_HINTS[SQL_NAME_PATTERN] = "a lower-case SQL name (letters, digits, _; at most 63)"


class PostgresStateModel(ConfigModel):
    """Where the PostgreSQL backend keeps the state (docs/state.md)."""

    dsn_env: EnvName = Field(
        description=(
            "Name of the environment variable holding the DSN (postgresql://user:pass@host/db "
            "or key=value form); never the DSN itself. Its password is never printed or stored."
        )
    )
    key: Name = Field(
        "default",
        description=(
            'This config\'s state in the database (default "default"); several configs '
            "can share one database, each with its own key."
        ),
    )
    schema_name: Annotated[StrictStr, Field(pattern=SQL_NAME_PATTERN)] = Field(
        "rlcm",
        alias="schema",
        description="Schema of rlcm's tables, created on first use (default rlcm).",
    )


class StateDoc(ConfigModel):
    """Where the state lives: the file beside the config (default) or PostgreSQL."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"backend": {"const": "postgres"}}, "required": ["backend"]},
            "then": {"required": ["postgres"]},
            "else": {"not": {"required": ["postgres"]}},
        }
    )

    kind: Literal["State"] = Field(description="Document kind.")
    backend: Literal["file", "postgres"] = Field(
        "file",
        description=(
            "file: rlcm.state.json beside the config (or --state FILE), fine for git. "
            "postgres: a PostgreSQL database, write-through with an advisory lock."
        ),
    )
    postgres: PostgresStateModel | None = Field(
        None, description="The PostgreSQL backend's settings; required with backend: postgres."
    )
    history: Annotated[StrictInt, Field(ge=0)] | None = Field(
        None,
        description=(
            "Written serials kept for `rlcm state history` and `plan --rollback-to`: "
            "the file backend keeps 20 unless told (in .rlcm/history/), postgres 1000; "
            "0 keeps none."
        ),
    )
    lock_timeout: Annotated[StrictFloat, Field(ge=0)] = Field(
        0.0,
        description=(
            "Seconds a command waits for the state lock before it fails naming the holder "
            "(default 0: fail at once). PostgreSQL backend only."
        ),
    )


KIND_MODELS: dict[str, type[ConfigModel]] = {
    "Workspace": WorkspaceDoc,
    "Source": SourceDoc,
    "Manifest": ManifestDoc,
    "Target": TargetDoc,
    "Fleet": FleetDoc,
    "Rollout": RolloutDoc,
    "State": StateDoc,
}

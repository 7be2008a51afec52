"""The resolved desired state: what the YAML says should exist, after validation.

This is the contract between `config/` (which builds it) and the planner, refresh and
applier (which consume it). Everything here is immutable, has no I/O and no pydantic:
the planner runs on tens of thousands of targets and must stay cheap.

Addresses:
- a manifest is addressed by its `name`;
- a target by its `address`: the Target's `name`, else `CUSTOMER/FOLDER_ID`, else
  `self/FOLDER_ID` for an own-workspace folder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.errors import Location

__all__ = [
    "DEFAULT_POLL",
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_RETRY",
    "DEFAULT_WAVE",
    "AssetRef",
    "AutoGenerate",
    "CustomerFilter",
    "DesiredState",
    "FleetSource",
    "HealthSpec",
    "ManifestSpec",
    "PollSettings",
    "QuotaBucket",
    "RateLimits",
    "RecipesState",
    "RetrySettings",
    "RolloutSpec",
    "SafetySpec",
    "Share",
    "SourceSpec",
    "StateSpec",
    "TargetSpec",
    "WaveSpec",
    "WorkspaceSpec",
    "quota_of",
    "target_address",
    "window_for_rate",
]

DEFAULT_WAVE = "default"
AuthStyle = Literal["bearer", "legacy"]
RecipesState = Literal["running", "stopped", "unchanged"]


def _subject(what: str, location: Location | None) -> str:
    return f"{what} ({location})" if location is not None else what


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests per minute for each quota bucket of one workspace: a belief, which the
    client corrects from Workato's 429s (workato/limits.py)."""

    imports: float = 1000.0  # embedded imports
    import_status: float = 1000.0  # embedded import status
    other: float = 60.0  # every other RLCM call, one shared bucket
    dev_imports: float = 500.0 / 60.0  # developer-API imports (500/hour)
    customers: float = 60.0  # GET /api/managed_users (Manage customers: 60/minute)
    folders: float = 60.0  # the Folders API: Fleet folder paths, the plan's pre-flight
    recipes: float = 2000.0  # the Embedded Recipes API's list and get
    recipe_actions: float = 1000.0  # its recipe start and stop
    dev_recipes: float = 60.0  # the developer API's recipe calls (own workspaces)
    # Quota windows (and their margin) are divided by this: 1 for Workato; N to match a
    # simulator served with `rlcm sim serve --time-scale N`, whose windows are N times shorter.
    time_scale: float = 1.0
    # buckets stated per hour (`{requests: 500, per: hour}`): counted over an hour
    hourly: frozenset[str] = frozenset()
    # buckets whose window resets on the clock (`window: fixed`: the top of the minute or
    # hour, "denied until the following hour") rather than sliding
    fixed: frozenset[str] = frozenset()
    # longest total wait of one call on 429s before it fails, in (server) seconds: long
    # enough to wait out an hourly window
    max_wait: float = 7200.0


DEFAULT_RATE_LIMITS = RateLimits()
QuotaBucket = Literal[
    "imports",
    "import_status",
    "dev_imports",
    "other",
    "recipes",
    "recipe_actions",
    "dev_recipes",
    "customers",
    "folders",
]


def window_for_rate(per_minute: float, minute: float = 60.0) -> tuple[int, float]:
    """(limit, window seconds) for a rate in requests per minute.

    A whole number per minute is a one-minute window. A fractional rate (the developer
    API's 500/hour is 8.33/minute) is counted over an hour, as Workato counts it.
    `minute` is how long a minute lasts: 60 s, or less against a time-scaled simulator.
    """
    if per_minute <= 0 or minute <= 0:
        raise ValueError("a rate limit must be positive")
    if float(per_minute).is_integer():
        return int(per_minute), minute
    return max(1, math.floor(per_minute * 60 + 1e-6)), minute * 60


def quota_of(
    rates: RateLimits, bucket: QuotaBucket, minute: float = 60.0
) -> tuple[int, float, bool]:
    """(limit, window seconds, fixed window?) of one bucket as the config states it: a
    quota stated per hour is counted over an hour even when it is a whole number a minute.
    The client's limiters (workato/limits.py) and the plan's estimate (plan/estimate.py)
    both count with this."""
    rate = float(getattr(rates, bucket))
    if bucket in rates.hourly:
        if rate <= 0 or minute <= 0:
            raise ValueError("a rate limit must be positive")
        limit, window = max(1, math.floor(rate * 60 + 1e-6)), minute * 60
    else:
        limit, window = window_for_rate(rate, minute)
    return limit, window, bucket in rates.fixed


@dataclass(frozen=True, slots=True)
class PollSettings:
    """How export and import jobs are polled (seconds)."""

    interval: float = 2.0  # first wait between status polls
    max_interval: float = 15.0  # backoff cap
    timeout: float = 3600.0  # give up on one job after this long, with a clear error


DEFAULT_POLL = PollSettings()


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """How failed requests are retried: `attempts` retries, exponential backoff (seconds)."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0


DEFAULT_RETRY = RetrySettings()


@dataclass(frozen=True, slots=True)
class WorkspaceSpec:
    """An API endpoint and the names of the environment variables holding credentials."""

    name: str
    base_url: str  # resolved: https://..., or sim://DIR (data_center already mapped)
    auth: AuthStyle = "bearer"
    token_env: str = "WORKATO_API_TOKEN"
    email_env: str | None = None  # legacy auth only
    rate_limits: RateLimits = DEFAULT_RATE_LIMITS
    request_timeout: float = 40.0  # seconds; Workato's own limit
    request_deadline: float = 120.0  # seconds for one whole request, answer included
    max_answer_bytes: int = 64 * 1024 * 1024  # one JSON answer
    poll: PollSettings = DEFAULT_POLL
    retry: RetrySettings = DEFAULT_RETRY
    max_package_bytes: int = 100 * 1024 * 1024  # `api.max_package_mb`; Workato's guide: 100 MB
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where manifests live and packages are exported from."""

    workspace: str
    managed_user: str | None = None  # None: the workspace's own environment (developer API)
    location: Location | None = None

    @property
    def subject(self) -> str:
        """`source E-template (workspace.yaml:14:1)`, or `source own workspace (...)`."""
        return _subject(f"source {self.managed_user or 'own workspace'}", self.location)


@dataclass(frozen=True, slots=True)
class AssetRef:
    """An asset named in a manifest, by type and name as reviewers read them."""

    type: str
    name: str
    version: int | None = None  # None: latest
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class AutoGenerate:
    include_test_cases: bool = False
    include_data: bool = False


@dataclass(frozen=True, slots=True)
class ManifestSpec:
    """An export manifest that should exist in the source workspace.

    Exactly one of `assets` and `auto_generate` is set.
    """

    name: str
    folder_id: int
    include_tags: bool = False
    depends_on: tuple[str, ...] = ()
    assets: tuple[AssetRef, ...] | None = None
    auto_generate: AutoGenerate | None = None
    location: Location | None = None

    @property
    def subject(self) -> str:
        """How an error names it: `manifest crm-sync (manifests.yaml:12:1)`."""
        return _subject(f"manifest {self.name}", self.location)


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One customer folder (or one own-workspace folder) and the packages it should run."""

    address: str
    workspace: str
    folder_id: int
    manifests: tuple[str, ...]  # in dependency order (depends_on first), then as written
    customer: str | None = None  # managed user id (numeric string or E...); None: own workspace
    restart_recipes: bool = False
    include_tags: bool = False
    folder_id_for_home_assets: int | None = None
    wave: str = DEFAULT_WAVE
    # the running state of the imported recipes after apply: running | stopped | unchanged
    recipes: RecipesState = "unchanged"
    location: Location | None = None
    # A folder named by path (`Integrations/CRM`) in the customer's workspace: folder_id is
    # 0 until live/targets.py resolves it (from state, or the folders API); it stays 0 when
    # the folder is missing and `create_folders` lets apply create it.
    folder_path: str | None = None
    create_folders: bool = False
    # An Embedded Environment (dev|test|prod): live/targets.py turns `customer` into the
    # suffixed workspace id (`E-acme_test`) once it knows the customer has Environments.
    environment: str | None = None
    fleet: str | None = None  # the generated Fleet that listed this customer, if any

    @property
    def subject(self) -> str:
        """How an error names it: `target acme (targets.yaml:3:1)`."""
        return _subject(f"target {self.address}", self.location)

    @property
    def folder_label(self) -> str:
        """How reasons and errors name the folder: its path, else its id."""
        return self.folder_path if self.folder_path is not None else str(self.folder_id)


def target_address(
    name: str | None, customer: str | None, folder: int | str, environment: str | None = None
) -> str:
    """A target's address: its name, else `CUSTOMER/FOLDER` (`self/FOLDER` without a
    customer); an environment suffixes the name or the customer (`E-acme_test/CRM`)."""
    if name is not None:
        return name if environment is None else f"{name}_{environment}"
    owner = customer if customer is not None else "self"
    return f"{owner}{'' if environment is None else '_' + environment}/{folder}"


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """Which of Workato's customers a generated Fleet takes (fnmatch globs)."""

    external_id: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    plan_id: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetSource:
    """A Fleet that lists its customers from Workato: expanded into targets on every plan.

    `template` holds the fleet's settings (workspace, manifests, folder, wave...) with a
    placeholder customer; `overrides` are the entries the YAML lists, by customer.
    `environments` yields one target per environment (each in wave `waves[i]`)."""

    name: str
    template: TargetSpec
    select: CustomerFilter
    # customer -> its entry's settings, one spec per environment (as `environments`)
    overrides: Mapping[str, tuple[TargetSpec, ...]] = field(default_factory=dict)
    environments: tuple[str, ...] = ()
    waves: tuple[str, ...] = ()
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class SafetySpec:
    """Above these, `rlcm apply` needs --force (see reconciler/plan/safety.py)."""

    max_first_wave_share: float = 0.25
    min_existing_targets: int = 10


@dataclass(frozen=True, slots=True)
class Share:
    """A number of targets given as a count or as a percentage of a wave's targets."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, value: int | str) -> Share:
        if isinstance(value, str):
            return cls(percent=float(value.rstrip("%")))
        return cls(count=value)

    def budget(self, total: int) -> int:
        """Failures allowed among `total` targets: a percentage rounds down (5% of 10 is 0)."""
        if self.percent is not None:
            return int(total * self.percent / 100 + 1e-9)
        return int(self.count or 0)

    def reach(self, total: int) -> int:
        """Targets a batch reaches among `total`: a percentage rounds up (10% of 5 is 1)."""
        if self.percent is not None:
            return min(total, max(1, math.ceil(total * self.percent / 100 - 1e-9)))
        return min(total, int(self.count or 0))

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent:g}%"
        return str(self.count)


@dataclass(frozen=True, slots=True)
class HealthSpec:
    """Recipe health a wave's targets must show at the end of its bake."""

    recipes_running: bool = True
    no_error_stops: bool = True
    max_new_failed_jobs: int | None = None


@dataclass(frozen=True, slots=True)
class WaveSpec:
    """A wave's gate: it passes when at most `max_failures` of its targets failed."""

    name: str
    max_failures: Share = Share(count=0)
    batches: tuple[Share, ...] = ()  # cumulative sizes; () is one batch of the whole wave
    bake: float | None = None  # seconds to wait after the wave before a later one starts
    health: HealthSpec | None = None  # checked at the end of the bake
    location: Location | None = None  # where the Rollout lists the wave

    def batch_sizes(self, total: int) -> tuple[int, ...]:
        """Cumulative batch sizes over `total` targets, each larger than the one before,
        the last `total`: [1, 10%, 50%, 100%] of 20 is (1, 2, 10, 20)."""
        sizes: list[int] = []
        for share in self.batches:
            size = share.reach(total)
            if size > (sizes[-1] if sizes else 0):
                sizes.append(size)
        if not sizes or sizes[-1] < total:
            sizes.append(total)
        return tuple(sizes)


@dataclass(frozen=True, slots=True)
class RolloutSpec:
    waves: tuple[str, ...] = (DEFAULT_WAVE,)
    max_parallel: int = 8
    # the emergency brake: failed targets after which nothing new starts (None: no brake)
    halt_after_failures: int | None = None
    safety: SafetySpec = SafetySpec()
    location: Location | None = None
    gates: tuple[WaveSpec, ...] = ()  # one per wave given as a mapping; others default

    def gate(self, wave: str) -> WaveSpec:
        """The gate of `wave`: as the Rollout gives it, else max_failures 0."""
        for spec in self.gates:
            if spec.name == wave:
                return spec
        return WaveSpec(wave)


StateBackendName = Literal["file", "postgres"]


@dataclass(frozen=True, slots=True)
class StateSpec:
    """Where the state lives (`kind: State`; without one, the file beside the config)."""

    backend: StateBackendName = "file"
    dsn_env: str | None = None  # postgres: the variable holding the DSN (never the DSN)
    key: str = "default"  # postgres: this config's row; several configs share a database
    schema: str = "rlcm"  # postgres: the schema of rlcm's tables
    history: int | None = None  # serials kept; None: the backend's default
    lock_timeout: float = 0.0  # seconds to wait for the lock before refusing
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the config declares, validated and cross-referenced."""

    workspaces: dict[str, WorkspaceSpec]
    source: SourceSpec
    manifests: dict[str, ManifestSpec]  # by name, in file order
    targets: dict[str, TargetSpec]  # by address, in file order
    rollout: RolloutSpec = field(default_factory=RolloutSpec)
    files: tuple[str, ...] = ()  # the YAML files read, sorted
    fleet_sources: tuple[FleetSource, ...] = ()  # Fleets listed from Workato (live/targets.py)
    targets_resolved: bool = False  # live/targets.py completed `targets` already

    @property
    def needs_live_targets(self) -> bool:
        """Whether targets depend on Workato: generated fleets, folder paths, environments."""
        if self.targets_resolved:
            return False
        return bool(self.fleet_sources) or any(
            t.folder_path is not None or t.environment is not None for t in self.targets.values()
        )

    state: StateSpec = field(default_factory=StateSpec)

    @property
    def source_workspace(self) -> WorkspaceSpec:
        return self.workspaces[self.source.workspace]

    def fleet_names(self) -> set[str]:
        return {f.name for f in self.fleet_sources}

    def targets_in_wave(self, wave: str) -> list[TargetSpec]:
        return [t for t in self.targets.values() if t.wave == wave]

    def manifest_order(self) -> list[str]:
        """Manifest names with every `depends_on` before its dependents (stable)."""
        done: dict[str, None] = {}

        def visit(name: str) -> None:
            if name in done:
                return
            for dep in self.manifests[name].depends_on:
                visit(dep)
            done[name] = None

        for name in self.manifests:
            visit(name)
        return list(done)

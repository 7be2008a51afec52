"""The state file's contents: what the API cannot be asked.

No Workato call lists manifests or says which package a customer last received, so the
state records it. The file is JSON, versioned (`format_version`), has a `serial` that
grows on every write and a `lineage` that identifies one history. It never holds a
secret: only ids, names, digests, versions and results.

Addresses (used by `rlcm state list|show|rm` and in plans):
- `manifest.NAME`           -> `State.manifests[NAME]`
- `export.NAME`             -> `State.packages[NAME]` (the last package of that manifest)
- `import.NAME@TARGET`      -> `State.imports["NAME@TARGET"]`
- `baseline.TARGET`         -> `State.baselines[TARGET]` (the target folder as last read)

Format 2 keeps one baseline per target (`TargetBaseline`: its recipes as the Recipes API
showed them after rlcm's imports, with their health, and its other assets once drift has
read them) instead of a copy of the folder in every import record (format 1's
`folder_after`); reconciler/state/migrate.py turns a format 1 file into format 2.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FORMAT_VERSION",
    "AssetStamp",
    "ImportRecord",
    "JobStatus",
    "ManifestRecord",
    "PackageRecord",
    "PendingImport",
    "PendingManifest",
    "RecipeResult",
    "RecipeStamp",
    "ResolvedTarget",
    "State",
    "TargetBaseline",
    "WaveRecord",
    "import_key",
]

FORMAT_VERSION = 2
JobStatus = Literal["in_progress", "completed", "failed"]


def import_key(manifest: str, target: str) -> str:
    return f"{manifest}@{target}"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class AssetStamp(_Record):
    """An asset as it stood at some moment: matched by type and name, with its version."""

    type: str
    name: str
    version: int | None = None
    id: int | None = None  # the asset's id in the workspace it was read from
    folder: str = ""


class ManifestRecord(_Record):
    """A live manifest rlcm created (or adopted) and what it last sent to it."""

    name: str
    id: int
    workspace: str
    owner: str | None = None  # source managed user; None for the own workspace
    folder_id: int
    include_tags: bool = False
    auto_generate: bool = False
    assets: list[AssetStamp] = Field(default_factory=list)  # as last sent (resolved ids)
    spec_digest: str  # digest of the body last sent; a change means an update is due
    updated_at: str = ""
    # set by `rlcm plan --rollback-to N`: the body pins the versions of serial N, so drift
    # measures the source against those pins, not against the config (None: the config)
    rollback_serial: int | None = None


class PackageRecord(_Record):
    """The last export of a manifest. `in_progress` is polled, never exported again."""

    manifest: str
    manifest_id: int
    package_id: int
    status: JobStatus
    spec_digest: str  # the manifest body the package was exported from
    digest: str | None = None  # sha256 of the zip, once downloaded
    asset_versions: list[AssetStamp] = Field(default_factory=list)  # what the package holds
    error: str | None = None
    started_at: str = ""
    finished_at: str | None = None


class RecipeResult(_Record):
    id: int | None = None  # Workato's OpenAPI makes it optional: then `position` names it
    name: str | None = None
    import_result: str
    position: int | None = None  # 1-based place in the answer's recipe_status

    @property
    def label(self) -> str:
        """The recipe's name, else `recipe <id>`, else `recipe #<position> (no id)`."""
        if self.name:
            return self.name
        if self.id is not None:
            return f"recipe {self.id}"
        return f"recipe #{self.position or '?'} (no id)"


class ImportRecord(_Record):
    """The last import of one manifest's package into one target folder."""

    manifest: str
    target: str
    import_id: int
    package_id: int
    package_digest: str
    status: JobStatus
    error: str | None = None
    recipe_results: list[RecipeResult] = Field(default_factory=list)
    started_at: str = ""
    finished_at: str | None = None
    # recorded by `rlcm adopt import...`: the target ran this package already, no import
    # ran (import_id 0); the target's baseline is its recipes as adoption read them
    adopted: bool = False


class RecipeStamp(_Record):
    """A recipe of a target as the Recipes API last showed it: version, and its health
    (running state, why it stopped, job counts). None where it was not read (a baseline
    migrated from format 1 knows names and versions only)."""

    id: int
    name: str
    version: int | None = None
    folder_id: int | None = None
    running: bool | None = None
    stop_cause: str | None = None
    stopped_at: str | None = None
    job_succeeded_count: int | None = None
    job_failed_count: int | None = None
    last_run_at: str | None = None


class TargetBaseline(_Record):
    """A target folder as rlcm last read it after its imports: what drift is measured from.

    `imports` names the import (by manifest) each read came after: an import whose id is
    not there has no baseline yet. `folders` are the folders holding the target's recipes
    besides the target folder itself (a package's subfolders); the Recipes API lists one
    folder at a time. `assets` are the other assets (connections, lookup tables...), read
    by `rlcm drift` through folder_assets: None until it first has.
    """

    target: str
    imports: dict[str, int] = Field(default_factory=dict)
    read_at: str = ""
    folders: list[int] = Field(default_factory=list)
    recipes: list[RecipeStamp] = Field(default_factory=list)
    assets: list[AssetStamp] | None = None
    assets_read_at: str | None = None

    def covers(self, record: ImportRecord) -> bool:
        """Whether this baseline was read after `record`'s import."""
        return self.imports.get(record.manifest) == record.import_id


class PendingManifest(_Record):
    """A manifest create that was sent but whose answer was not recorded yet.

    No API lists manifests, so a crash between sending the create and recording its id
    could leave a live manifest rlcm does not know. This marker makes that window
    visible: the next run warns and names `rlcm adopt` instead of silently creating a
    second one.
    """

    name: str
    started_at: str

    def warning(self) -> str:
        """What plan and drift say of the marker (apply refuses: reconciler/plan/safety.py)."""
        address = f"manifest.{self.name}"
        return (
            f"{address}: a create sent at {self.started_at} was never recorded; if it exists "
            f"in Workato, run `rlcm adopt {address} ID` instead of creating another (apply "
            "creates it again only with --allow-unrecorded-create)"
        )


class LearnedQuota(_Record):
    """A quota bucket's rate as Workato's 429s taught it, below the configured one: the
    next plan's estimate counts with it (plan/estimate.py)."""

    workspace: str
    bucket: str
    limit: int  # requests per window
    window: float  # seconds, as Workato counts them (not divided by a time scale)
    learned_at: str


class ResolvedTarget(_Record):
    """A target whose folder (by path) or workspace (an Environment) was looked up in
    Workato: kept so that a steady-state plan does not ask again. Recorded by apply and
    adopt; `fleet` names the generated Fleet that listed the customer, if any."""

    workspace: str
    customer: str | None = None  # as addressed (with an environment suffix)
    folder_path: str | None = None
    folder_id: int
    fleet: str | None = None


class WaveRecord(_Record):
    """How a wave's last run in an apply ended, so that a later `rlcm apply --wave` (a
    separate CI job) can check the gate of the waves before it, as one apply would."""

    name: str
    finished_at: str
    passed: bool  # its failed targets were within max_failures
    targets: int  # targets that ran
    failed_targets: list[str] = Field(default_factory=list)
    # its bake (if any) was waited out and its health gate asked; false while the bake is
    # still to be done (a kill, a --max-duration deadline, or no later wave in that apply):
    # the next apply waits for what is left of it before a later wave starts
    baked: bool = True


class PendingImport(_Record):
    """An import POST that was sent but whose job id was not recorded yet.

    Written before the POST (as `PendingManifest` before a manifest create) and replaced
    by the `in_progress` import record in the write that records the id. A marker left
    on disk means the run was killed meanwhile, or the answer was lost (a 504, a dropped
    connection, a timeout): Workato may have started the import. The next run reads the
    target folder and, when it shows the package, records the import instead of sending
    the package again (reconciler/applier/steps.py).
    """

    manifest: str
    target: str
    package_id: int
    package_digest: str
    started_at: str  # with milliseconds
    lost_answer: str | None = None  # what became of the POST's answer, when known


class State(_Record):
    format_version: int = FORMAT_VERSION
    serial: int = 0
    lineage: str = Field(default_factory=lambda: str(uuid.uuid4()))
    manifests: dict[str, ManifestRecord] = Field(default_factory=dict)
    packages: dict[str, PackageRecord] = Field(default_factory=dict)
    imports: dict[str, ImportRecord] = Field(default_factory=dict)
    pending: dict[str, PendingManifest] = Field(default_factory=dict)
    # import key -> why `rlcm adopt` did not adopt it (the plan shows it as the import's
    # reason); dropped once the import is recorded
    unadopted: dict[str, str] = Field(default_factory=dict)
    # target address -> its resolved folder and workspace (live/targets.py); optional cache
    targets: dict[str, ResolvedTarget] = Field(default_factory=dict)
    waves: dict[str, WaveRecord] = Field(default_factory=dict)  # optional: since wave gates
    baselines: dict[str, TargetBaseline] = Field(default_factory=dict)
    pending_imports: dict[str, PendingImport] = Field(default_factory=dict)
    # "WORKSPACE/BUCKET" -> the rate learned from 429s (optional: older files have none)
    quotas: dict[str, LearnedQuota] = Field(default_factory=dict)
    # the source workspace this state describes (`source_identity`); set on the first
    # apply, and a config with another source is refused (reconciler/state/identity.py)
    source: str | None = None

    @model_validator(mode="after")
    def _one_name_per_manifest_id(self) -> State:
        """Two names for one live manifest: one would update the other's assets."""
        seen: dict[tuple[str, str | None, int], str] = {}
        for name, record in sorted(self.manifests.items()):
            key = (record.workspace, record.owner, record.id)
            if key in seen:
                raise ValueError(
                    f"manifests {seen[key]} and {name} record the same manifest id {record.id}"
                )
            seen[key] = name
        return self

    def last_import(self, manifest: str, target: str) -> ImportRecord | None:
        return self.imports.get(import_key(manifest, target))

    def baseline_of(self, record: ImportRecord) -> TargetBaseline | None:
        """The target's baseline, if it was read after this import."""
        baseline = self.baselines.get(record.target)
        return baseline if baseline is not None and baseline.covers(record) else None

    def addresses(self) -> list[str]:
        """Every address in the state, sorted, as `rlcm state list` prints them."""
        found = [f"manifest.{n}" for n in self.manifests]
        found += [f"export.{n}" for n in self.packages]
        found += [f"import.{k}" for k in self.imports]
        found += [f"pending.{n}" for n in self.pending]
        found += [f"baseline.{t}" for t in self.baselines]
        found += [f"pending.import.{k}" for k in self.pending_imports]
        return sorted(found)

"""Factories for planner tests: the demo world as DesiredState, State and LiveState.

`make_desired` / `make_live` / `make_state` build realistic inputs; `applied` turns a
plan into the state and live snapshot a clean apply of it would leave, so tests can start
from "everything is in sync" and change one thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.config.desired import (
    AssetRef,
    AutoGenerate,
    DesiredState,
    ManifestSpec,
    RolloutSpec,
    SourceSpec,
    TargetSpec,
    WorkspaceSpec,
)
from reconciler.errors import Location
from reconciler.live import LiveAsset, LiveManifest, LiveRecipe, LiveState
from reconciler.plan import Plan
from reconciler.plan.planner import build_plan
from reconciler.state.model import (
    AssetStamp,
    ImportRecord,
    ManifestRecord,
    PackageRecord,
    RecipeResult,
    RecipeStamp,
    State,
    TargetBaseline,
)

LINEAGE = "11111111-2222-3333-4444-555555555555"


def _asset(
    id: int, type: str, name: str, version: int | None = None, folder: str = "", top: str = ""
) -> LiveAsset:
    slug = name.lower().replace(" ", "_")
    path = f"{folder}/" if folder else ""
    return LiveAsset(
        id=id,
        type=type,
        name=name,
        version=version,
        folder=folder,
        zip_name=f"{path}{slug}.{type}.json",
        absolute_path=f"All projects/{top}" + (f"/{folder}" if folder else ""),
    )


def source_folders(**versions: int) -> dict[int, tuple[LiveAsset, ...]]:
    """The demo source folders; `versions` overrides a recipe version by slug."""

    def v(slug: str, default: int) -> int:
        return versions.get(slug, default)

    return {
        110: (
            _asset(1101, "connection", "Salesforce", top="Shared connections"),
            _asset(1102, "connection", "Slack", top="Shared connections"),
            _asset(1103, "lookup_table", "Region codes", top="Shared connections"),
        ),
        112: (
            _asset(1121, "recipe", "Sync accounts", v("sync_accounts", 4), top="CRM sync"),
            _asset(1122, "recipe", "Sync contacts", v("sync_contacts", 2), top="CRM sync"),
            _asset(1131, "lookup_table", "Account mappings", folder="Mappings", top="CRM sync"),
        ),
        114: (
            _asset(1141, "recipe", "Invoice overdue alert", v("invoice", 3), top="Billing alerts"),
            _asset(1142, "recipe", "Payment failed alert", v("payment", 1), top="Billing alerts"),
        ),
    }


def loc(line: int, col: int = 5, file: str = "examples/manifests/manifests.yaml") -> Location:
    return Location(file, line, col)


def demo_manifests() -> dict[str, ManifestSpec]:
    return {
        "shared-connections": ManifestSpec(
            name="shared-connections",
            folder_id=110,
            include_tags=True,
            assets=(
                AssetRef("connection", "Salesforce", location=loc(6)),
                AssetRef("connection", "Slack", location=loc(7)),
                AssetRef("lookup_table", "Region codes", location=loc(8)),
            ),
        ),
        "crm-sync": ManifestSpec(
            name="crm-sync",
            folder_id=112,
            include_tags=True,
            depends_on=("shared-connections",),
            assets=(
                AssetRef("recipe", "Sync accounts", 4, location=loc(16)),
                AssetRef("recipe", "Sync contacts", location=loc(17)),
                AssetRef("lookup_table", "Account mappings", location=loc(18)),
            ),
        ),
        "billing-alerts": ManifestSpec(
            name="billing-alerts",
            folder_id=114,
            depends_on=("shared-connections",),
            auto_generate=AutoGenerate(),
        ),
    }


ALL = ("shared-connections", "crm-sync", "billing-alerts")
EMEA = [
    ("E-globex", 2211),
    ("91928", 77),
    ("E-initech", 2301),
    ("E-umbrella", 2401),
    ("E-hooli", 2501),
    ("E-vandelay", 2601),
    ("E-wonka", 2701),
    ("E-stark", 2801),
    ("E-wayne", 2901),
    ("E-tyrell", 3001),
    ("E-cyberdyne", 3101),
    ("E-soylent", 3201),
]


def demo_targets(extra_customers: int = 0) -> dict[str, TargetSpec]:
    targets = [
        TargetSpec(
            address="acme",
            workspace="partner",
            customer="E-acme-001",
            folder_id=1827,
            manifests=ALL,
            restart_recipes=True,
            include_tags=True,
            folder_id_for_home_assets=1830,
            wave="canary",
        )
    ]
    for customer, folder in EMEA:
        targets.append(
            TargetSpec(
                address=f"{customer}/{folder}",
                workspace="partner",
                customer=customer,
                folder_id=folder,
                manifests=ALL,
                restart_recipes=customer != "E-umbrella",
                folder_id_for_home_assets=78 if customer == "91928" else None,
                wave="main",
            )
        )
    for i in range(1, extra_customers + 1):
        customer, folder = f"E-cust-{i:04d}", 50000 + i
        targets.append(
            TargetSpec(
                address=f"{customer}/{folder}",
                workspace="partner",
                customer=customer,
                folder_id=folder,
                manifests=ALL,
                restart_recipes=True,
                wave="main",
            )
        )
    return {t.address: t for t in targets}


def make_desired(
    *,
    extra_customers: int = 0,
    manifests: Mapping[str, ManifestSpec] | None = None,
    targets: Mapping[str, TargetSpec] | None = None,
) -> DesiredState:
    return DesiredState(
        workspaces={"partner": WorkspaceSpec("partner", "sim://.rlcm/sim")},
        source=SourceSpec("partner", "E-template"),
        manifests=dict(manifests if manifests is not None else demo_manifests()),
        targets=dict(targets if targets is not None else demo_targets(extra_customers)),
        rollout=RolloutSpec(waves=("canary", "main"), max_parallel=8, halt_after_failures=3),
    )


def make_live(
    *,
    versions: Mapping[str, int] | None = None,
    manifests: Mapping[str, LiveManifest] | None = None,
    target_folders: Mapping[str, tuple[LiveAsset, ...]] | None = None,
) -> LiveState:
    live = LiveState(
        source_folders=source_folders(**(versions or {})),
        manifests=dict(manifests or {}),
    )
    return with_targets(live, target_folders)


def with_targets(live: LiveState, folders: Mapping[str, tuple[LiveAsset, ...]] | None) -> LiveState:
    """`live` with these target folders read (None: targets not refreshed): every asset
    as folder_assets lists them, and their recipes as the Recipes API does (running)."""
    if folders is None:
        return replace(live, target_folders=None, target_recipes=None)
    recipes = {
        target: tuple(
            LiveRecipe(id=a.id, name=a.name, version=a.version, running=True)
            for a in assets
            if a.type == "recipe"
        )
        for target, assets in folders.items()
    }
    return replace(live, target_folders=dict(folders), target_recipes=recipes)


def make_state(
    *,
    serial: int = 0,
    manifests: Iterable[ManifestRecord] = (),
    packages: Iterable[PackageRecord] = (),
    imports: Iterable[ImportRecord] = (),
) -> State:
    return State(
        serial=serial,
        lineage=LINEAGE,
        manifests={m.name: m for m in manifests},
        packages={p.manifest: p for p in packages},
        imports={f"{i.manifest}@{i.target}": i for i in imports},
    )


def _stamps(items: Iterable[Mapping[str, Any]]) -> list[AssetStamp]:
    return [AssetStamp(**dict(i)) for i in items]


def applied(plan: Plan, state: State, live: LiveState) -> tuple[State, LiveState]:
    """The state and live snapshot a clean apply of `plan` would leave."""
    new = state.model_copy(deep=True)
    new.serial += 1
    views = dict(live.manifests)
    folders: dict[str, tuple[LiveAsset, ...]] = dict(live.target_folders or {})
    ids: dict[str, int] = {n: m.id for n, m in new.manifests.items()}
    for change in plan.changes:
        d = change.data
        if change.kind == "manifest" and change.action in ("create", "update", "recreate"):
            _apply_manifest(new, views, ids, change.manifest, d, change.action)
        elif change.kind == "export":
            _apply_export(new, ids, change.manifest, d)
        elif change.kind == "import" and change.action == "import":
            _apply_import(new, folders, change.manifest, change.target or "", d)
    return new, with_targets(replace(live, manifests=views), folders)


def _apply_manifest(
    state: State,
    views: dict[str, LiveManifest],
    ids: dict[str, int],
    name: str,
    d: Any,
    action: str,
) -> None:
    body = d["body"]
    if action != "update":  # create and recreate give a new live id
        ids[name] = max(ids.values(), default=9000) + 1
    assets = [
        {k: a[k] for k in ("type", "name", "version", "id", "folder")}
        for a in body.get("assets", [])
    ]
    state.manifests[name] = ManifestRecord(
        name=name,
        id=ids[name],
        workspace=d["workspace"],
        owner=d["owner"],
        folder_id=body["folder_id"],
        include_tags=body["include_tags"],
        auto_generate="auto_generate_assets" in body,
        assets=_stamps(assets),
        spec_digest=d["spec_digest"],
    )
    views[name] = LiveManifest(ids[name], name, "working", body["folder_id"], body["include_tags"])


def _apply_export(state: State, ids: dict[str, int], name: str, d: Any) -> None:
    previous = state.packages.get(name)
    package_id = d["resume_package_id"] or (previous.package_id + 1 if previous else 7001)
    state.packages[name] = PackageRecord(
        manifest=name,
        manifest_id=ids[name],
        package_id=package_id,
        status="completed",
        spec_digest=d["spec_digest"],
        digest=f"sha256:{name}-{package_id}",
        asset_versions=_stamps(d["asset_versions"]),
    )


def _apply_import(
    state: State, folders: dict[str, tuple[LiveAsset, ...]], name: str, target: str, d: Any
) -> None:
    package = state.packages[name]
    after = [AssetStamp(**s.model_dump()) for s in package.asset_versions]
    kept = [
        a for a in folders.get(target, ()) if a.key not in {f"{s.type}:{s.name}" for s in after}
    ]
    folders[target] = tuple(kept) + tuple(
        LiveAsset(id=(s.id or 0) + 100000, type=s.type, name=s.name, version=s.version)
        for s in after
    )
    state.imports[f"{name}@{target}"] = ImportRecord(
        manifest=name,
        target=target,
        import_id=800000 + len(state.imports),
        package_id=package.package_id,
        package_digest=package.digest or "",
        status="completed",
        recipe_results=[
            RecipeResult(id=(s.id or 0) + 100000, name=s.name, import_result="restarted")
            for s in after
            if s.type == "recipe"
        ],
    )
    old = state.baselines.get(target)
    state.baselines[target] = TargetBaseline(
        target=target,
        imports={**(old.imports if old else {}), name: state.imports[f"{name}@{target}"].import_id},
        recipes=[
            RecipeStamp(id=a.id, name=a.name, version=a.version, running=True)
            for a in folders[target]
            if a.type == "recipe"
        ],
        assets=[
            AssetStamp(type=a.type, name=a.name, version=a.version, id=a.id)
            for a in folders[target]
            if a.type != "recipe"
        ],
    )


def in_sync(desired: DesiredState | None = None) -> tuple[DesiredState, State, LiveState]:
    """The demo world after a clean apply: plans no changes; targets refreshed."""
    desired = desired or make_desired()
    state, live = make_state(), make_live(target_folders={})
    state, live = applied(build_plan(desired, state, live), state, live)
    return desired, state, live


def target_folders_of(live: LiveState) -> dict[str, tuple[LiveAsset, ...]]:
    """A copy of the target folders of a refresh that read them, to change one and replace."""
    assert live.target_folders is not None, "targets were not refreshed"
    return dict(live.target_folders)

"""Fixtures of the state tests: realistic states and a state file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.state.model import (
    AssetStamp,
    ImportRecord,
    ManifestRecord,
    PackageRecord,
    PendingManifest,
    RecipeResult,
    RecipeStamp,
    State,
    TargetBaseline,
    import_key,
)


def make_state(imports: int = 3) -> State:
    state = State()
    state.manifests["crm-sync"] = ManifestRecord(
        name="crm-sync",
        id=501,
        workspace="partner",
        owner="E-template",
        folder_id=112,
        spec_digest="sha256:" + "a" * 64,
        assets=[AssetStamp(type="recipe", name="Sync accounts", version=4, id=7001)],
    )
    state.packages["crm-sync"] = PackageRecord(
        manifest="crm-sync",
        manifest_id=501,
        package_id=9001,
        status="completed",
        spec_digest="sha256:" + "a" * 64,
        digest="sha256:" + "c" * 64,
    )
    state.pending["billing-alerts"] = PendingManifest(
        name="billing-alerts", started_at="2026-11-23T10:00:00Z"
    )
    for i in range(imports):
        target = f"E-cust-{i:04d}/{50001 + i}"
        state.imports[import_key("crm-sync", target)] = ImportRecord(
            manifest="crm-sync",
            target=target,
            import_id=i,
            package_id=9001,
            package_digest="sha256:" + "c" * 64,
            status="completed",
            recipe_results=[
                RecipeResult(id=j, name=f"Sync {j}", import_result="restarted") for j in range(3)
            ],
            started_at="2026-11-23T10:01:02Z",
            finished_at="2026-11-23T10:01:09Z",
        )
        state.baselines[target] = TargetBaseline(
            target=target,
            imports={"crm-sync": i},
            read_at="2026-11-23T10:01:10Z",
            recipes=[
                RecipeStamp(id=j, name=f"Sync {j}", version=4, folder_id=50001 + i, running=True)
                for j in range(4)
            ],
            assets=[AssetStamp(type="connection", name="Salesforce", id=99, folder="")],
        )
    return state


@pytest.fixture
def state_factory() -> Callable[..., State]:
    return make_state


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "rlcm.state.json"

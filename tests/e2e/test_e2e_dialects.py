"""rlcm against each dialect of Workato (simulator/dialect.py): the same results as the
documents' own forms, for plan, apply and drift.

Every world also holds a customer whose external id has a space, a slash, an `@` and a
non-ASCII letter, with two targets (two folders) that each import two packages: in the
`one_import` dialect the simulator refuses a second import into a running workspace, so
those targets must queue in the applier rather than collide.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from apply_fixtures import ROOT, TOKEN_ENV, World, workspace_yaml

from reconciler.simulator.dialect import DIALECTS

ODD = "Eacme emea/01@eu ü"
ODD_ID = 7001
ODD_TARGETS = (
    "kind: Target\nname: odd-a\nworkspace: partner\n"
    f'customer: "{ODD}"\nfolder_id: 6001\n'
    "manifests: [shared-connections, crm-sync]\nrestart_recipes: true\nwave: main\n"
    "---\nkind: Target\nname: odd-b\nworkspace: partner\n"
    f'customer: "{ODD}"\nfolder_id: 6002\n'
    "manifests: [shared-connections, billing-alerts]\nrestart_recipes: true\nwave: main\n"
)


@dataclass(frozen=True)
class Outcome:
    """What a user sees of one plan -> apply -> plan -> drift round, mode-independent."""

    plan: tuple[str, ...]  # planned addresses
    apply_exit: int
    steps: tuple[tuple[str, str, tuple[str, ...]], ...]  # address, status, recipe results
    replan: tuple[str, ...]
    drift_exit: int


def _world(root: Path) -> World:
    world = World(root)
    world.sim.add_managed_user(ODD, ODD_ID, {6001: "Odd A", 6002: "Odd B"})
    world.write("odd.yaml", ODD_TARGETS)
    return world


def _addresses(plan_json: str) -> tuple[str, ...]:
    return tuple(sorted(c["address"] for c in json.loads(plan_json)["changes"]))


def _round(world: World, tmp: Path) -> Outcome:
    plan = world.rlcm("plan", "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    report = tmp / "report.json"
    applied = world.apply("--report", report)
    assert applied.exit_code in (0, 3), applied.stderr
    steps = json.loads(report.read_text())["steps"]
    replan = world.rlcm("plan", "--format", "json")
    drift = world.rlcm("drift")
    return Outcome(
        plan=_addresses(plan.stdout),
        apply_exit=applied.exit_code,
        steps=tuple(
            sorted(
                (s["address"], s["status"], tuple(r["import_result"] for r in s["recipes"]))
                for s in steps
            )
        ),
        replan=_addresses(replan.stdout),
        drift_exit=drift.exit_code,
    )


@pytest.fixture(scope="module")
def documents_outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    from reconciler.workato import limits

    root = tmp_path_factory.mktemp("documents")
    with pytest.MonkeyPatch.context() as patch:  # see conftest._own_quota_limiters
        patch.setattr(limits, "_REGISTRY", {})
        return _round(_world(root / "world"), root)


def _odd_imports_overlap(world: World) -> bool:
    jobs = [j for j in world.sim.jobs("import") if j["workspace"].endswith(str(ODD_ID))]
    assert jobs, f"no imports into managed user {ODD_ID}"
    spans = sorted((j["created"], j["finished"]) for j in jobs)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_each_dialect_gives_the_documents_results(
    tmp_path: Path, documents_outcome: Outcome, dialect: str
) -> None:
    world = _world(tmp_path / "world")
    world.sim.set_dialect([dialect])
    outcome = _round(world, tmp_path)
    assert outcome == documents_outcome
    assert documents_outcome.apply_exit == 3  # umbrella's running recipe, in every mode
    assert any(a.endswith("@odd-b") for a in outcome.plan)
    statuses = [r.status for r in world.log() if r.kind == "import"]
    assert 409 not in statuses  # rlcm queued the odd customer's imports itself
    assert not _odd_imports_overlap(world)


def test_every_dialect_at_once_gives_the_documents_results(
    tmp_path: Path, documents_outcome: Outcome
) -> None:
    world = _world(tmp_path / "world")
    world.sim.set_dialect(sorted(DIALECTS))
    assert _round(world, tmp_path) == documents_outcome


def test_a_recipe_without_an_id_is_reported_by_its_position(tmp_path: Path) -> None:
    world = _world(tmp_path / "world")
    world.sim.set_dialect(["recipe_ids_missing"])
    report = tmp_path / "r.json"
    applied = world.apply("--report", report, "-v")
    steps = {s["address"]: s for s in json.loads(report.read_text())["steps"]}
    recipes = steps["import.crm-sync@odd-a"]["recipes"]
    assert recipes and recipes[0]["id"] is None and recipes[0]["position"] == 1
    assert "recipe #1 (no id)" in applied.stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, str]]:
    """`rlcm sim serve --dialect processing --dialect one_import` as its own process."""
    world = _world(tmp_path / "world")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "reconciler", "sim", "serve", "--dir", str(world.sim_dir)]
    argv += ["--port", "0", "--dialect", "processing", "--dialect", "one_import"]
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        world.write("workspace.yaml", workspace_yaml(url))
        yield world, url
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


def test_sim_serve_dialect_flags_and_the_admin_control(served: tuple[World, str]) -> None:
    world, url = served
    assert world.sim.engine.dialects() == ["one_import", "processing"]
    admin = f"{url}/__sim/"
    body: dict[str, Any] = {"action": "set_dialect", "args": {"names": ["nonsense"]}}
    refused = httpx.post(admin, json=body)
    assert refused.status_code == 422 and "unknown dialect 'nonsense'" in refused.text
    body["args"]["names"] = ["processing", "one_import", "recipe_ids_missing"]
    assert httpx.post(admin, json=body).status_code == 200
    applied = world.apply()
    assert applied.exit_code == 3, applied.stderr  # umbrella, as in every mode
    assert world.rlcm("plan", "--detailed-exitcode", "--target", "odd-a").exit_code == 0
    headers = {"Authorization": f"Bearer {TOKEN_ENV['WORKATO_API_TOKEN']}"}
    quoted = httpx.URL(url).join("/api/managed_users/" + _quote(ODD) + "/imports/1")
    answer = httpx.get(quoted, headers=headers)
    assert answer.status_code in (200, 404)  # routed to the odd customer, not a 400


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")

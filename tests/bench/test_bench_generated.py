"""The generated-fleet benchmark in miniature (10 customers, heavily time-scaled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.generated import checks, generated_case
from benchmarks.world import World

pytestmark = pytest.mark.http


def test_a_steady_generated_fleet_plans_from_the_customer_list_alone(tmp_path: Path) -> None:
    case = generated_case(10, World(time_scale=200.0), tmp_path)
    assert case["imports_during_adopt"] == 0
    steady = case["runs"]["plan_no_refresh"]
    assert steady["exit_code"] == 0 and steady["http_429"] == 0
    # one page of customers, three source folders, three manifest views; no folder lookups
    assert steady["calls"] == {"customers_list": 1, "folder_assets": 3, "manifest_view": 3}
    full = case["runs"]["plan_refresh"]  # each target's recipes, in the Recipes API bucket
    assert full["calls"]["folder_assets"] == 3 and full["calls"]["recipes_list"] == 10
    by_target = {c["target"]: c["ok"] for c in checks(case)}
    assert by_target["steady state reads no folder: customer pages + source folders + views"]
    assert by_target["adopting the fleet imports nothing"]

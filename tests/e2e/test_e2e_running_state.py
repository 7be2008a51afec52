"""`recipes: running` end to end: a first import's recipes are started, running ones are
left alone, a stopped one is planned and started again, an unauthorized connection is that
target's failure with Workato's reasons (exit 3), and drift shows a recipe that should run
and does not."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_world import DemoWorld, RunCli

ACME = ("E-acme-001", 1827)
RECIPES = {"Sync accounts", "Sync contacts", "Invoice overdue alert", "Payment failed alert"}


def _declare(world: DemoWorld, state: str) -> None:
    """acme says `recipes: STATE`; the fleet says it for every customer but one."""
    targets = world.root / "targets.yaml"
    targets.write_text(
        targets.read_text(encoding="utf-8") + f"recipes: {state}\n", encoding="utf-8"
    )


def _running(world: DemoWorld) -> dict[str, bool]:
    return {
        a["name"]: a["running"] for a in world.sim.folder_assets(*ACME) if a["type"] == "recipe"
    }


def _starts(world: DemoWorld) -> list[str]:
    return [r.path for r in world.sim.request_log() if r.kind == "recipe_start"]


def test_a_first_import_starts_its_recipes_and_running_ones_are_left_alone(
    demo_config: DemoWorld, run_cli: RunCli, tmp_path: Path
) -> None:
    world = demo_config
    world.sim.stop_recipe("E-umbrella", "Sync accounts")  # the demo's deliberate failure
    _declare(world, "running")
    plan = json.loads(run_cli("plan", "--format", "json").stdout)
    start = next(c for c in plan["changes"] if c["address"] == "recipes.acme")
    assert start["action"] == "start"
    assert start["reasons"] == [
        "after its imports: start the imported recipes that are not running"
    ]
    assert set(start["depends_on"]) == {
        "import.shared-connections@acme", "import.crm-sync@acme", "import.billing-alerts@acme",
    }  # fmt: skip
    assert "recipes to start on 1 target" in plan["summary"]["line"]
    text = run_cli("plan").stdout
    assert "Recipes to start:" in text and "+ recipes.acme" in text
    report = tmp_path / "apply.json"
    result = run_cli("apply", "--auto-approve", "-q", "--report", str(report))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert _running(world) == dict.fromkeys(RECIPES, True)
    assert len(_starts(world)) == 4
    steps = {s["address"]: s for s in json.loads(report.read_text(encoding="utf-8"))["steps"]}
    assert steps["recipes.acme"]["status"] == "succeeded"
    assert steps["recipes.acme"]["message"].startswith("started 4 recipes: ")
    # only acme declared it: the fleet's recipes stay as imported (not running)
    assert not any(a["running"] for a in world.sim.folder_assets("E-globex", 2211))

    # running recipes are left alone: nothing to plan, nothing started
    world.sim.clear_request_log()
    again = run_cli("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout
    assert run_cli("drift").exit_code == 0
    assert _starts(world) == []

    # one stopped by a user: planned, started again, the others untouched
    world.sim.stop_recipe(*ACME[:1], "Sync contacts", folder_id=ACME[1])
    changes = json.loads(run_cli("plan", "--format", "json").stdout)["changes"]
    assert [(c["address"], c["reasons"]) for c in changes] == [
        ("recipes.acme", ["recipe Sync contacts is not running (recipes: running)"])
    ]
    drift = json.loads(run_cli("drift", "--format", "json").stdout)
    kinds = {(f["kind"], f["message"]) for f in drift["findings"]}
    assert (
        "running_state",
        "recipe Sync contacts should run (recipes: running) and does not",
    ) in kinds
    world.sim.clear_request_log()
    assert run_cli("apply", "--auto-approve", "-q").exit_code == 0
    assert len(_starts(world)) == 1 and _running(world)["Sync contacts"] is True


def test_an_unauthorized_connection_is_the_targets_failure_with_workatos_reasons(
    applied_config: DemoWorld, run_cli: RunCli, tmp_path: Path
) -> None:
    world = applied_config
    world.sim.set_connection_authorized(ACME[0], "Salesforce", False)
    _declare(world, "running")
    changes = json.loads(run_cli("plan", "--format", "json").stdout)["changes"]
    [start] = changes
    assert start["address"] == "recipes.acme" and start["depends_on"] == []
    assert sorted(start["reasons"]) == sorted(
        f"recipe {name} is not running (recipes: running)" for name in RECIPES
    )
    report, markdown, junit = (tmp_path / f"apply.{ext}" for ext in ("json", "md", "xml"))
    result = run_cli(
        "apply", "--auto-approve", "--report", str(report), "--report", str(markdown),
        "--report", str(junit),
    )  # fmt: skip
    assert result.exit_code == 3, result.stdout + result.stderr
    step = next(
        s
        for s in json.loads(report.read_text(encoding="utf-8"))["steps"]
        if s["address"] == "recipes.acme"
    )
    assert step["status"] == "failed"
    assert step["message"] == (
        "Workato refused to start 2 recipes: Sync accounts: Salesforce: connection is not "
        "authorized; Sync contacts: Salesforce: connection is not authorized"
    )
    assert "Salesforce: connection is not authorized" in result.stdout
    assert "recipes (start)" in result.stdout and "error: Workato refused to start" in result.stdout
    md = markdown.read_text(encoding="utf-8")
    assert "| acme | recipes (start) | Workato refused to start 2 recipes: " in md
    xml = junit.read_text(encoding="utf-8")
    assert 'classname="acme.recipes" name="start"' in xml
    assert "connection is not authorized" in xml
    # the alerts (Slack) started; the Salesforce recipes did not
    assert _running(world) == {
        "Sync accounts": False, "Sync contacts": False,
        "Invoice overdue alert": True, "Payment failed alert": True,
    }  # fmt: skip
    # once the customer authorizes the connection, the next apply starts the rest
    world.sim.set_connection_authorized(ACME[0], "Salesforce", True)
    assert run_cli("apply", "--auto-approve", "-q").exit_code == 0
    assert _running(world) == dict.fromkeys(RECIPES, True)


def test_recipes_stopped_stops_them(applied_config: DemoWorld, run_cli: RunCli) -> None:
    world = applied_config
    world.sim.start_recipe(ACME[0], "Sync accounts", folder_id=ACME[1])
    _declare(world, "stopped")
    drift = json.loads(run_cli("drift", "--format", "json").stdout)
    assert {f["message"] for f in drift["findings"] if f["kind"] == "running_state"} == {
        "recipe Sync accounts should be stopped (recipes: stopped) and runs"
    }
    changes = json.loads(run_cli("plan", "--format", "json").stdout)["changes"]
    assert [(c["address"], c["action"]) for c in changes] == [("recipes.acme", "stop")]
    assert run_cli("apply", "--auto-approve", "-q").exit_code == 0
    assert not any(_running(world).values())

"""plan, apply, plan over real HTTP: the config's base_url points at a served simulator."""

from __future__ import annotations

import pytest
from e2e_world import DemoWorld, RunCli

from reconciler.simulator.serve import running_server


@pytest.mark.http
def test_plan_apply_plan_over_http(demo_config: DemoWorld, run_cli: RunCli) -> None:
    world = demo_config
    world.sim.stop_recipe("E-umbrella", "Sync accounts")
    workspace = world.root / "workspace.yaml"
    with running_server(world.sim_dir) as url:
        assert url.startswith("http://127.0.0.1:")
        text = workspace.read_text(encoding="utf-8")
        workspace.write_text(text.replace("sim://.rlcm/sim", url), encoding="utf-8")
        first = run_cli("plan", "--detailed-exitcode")
        assert first.exit_code == 2, first.stderr
        assert "3 manifests to create, 3 exports, 39 imports" in first.stdout
        applied = run_cli("apply", "--auto-approve", "-q")
        assert applied.exit_code == 0, applied.stderr
        again = run_cli("plan", "--detailed-exitcode")
        assert again.exit_code == 0, again.stdout + again.stderr
    assert world.sim.request_log()[-1].host.startswith("127.0.0.1")
    assert len(world.state().imports) == 39

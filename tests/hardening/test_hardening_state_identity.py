"""A state file is tied to its source workspace, and a symlinked one is written through."""

from __future__ import annotations

import json

from hardening_world import World


def test_a_state_of_another_source_is_refused(world: World) -> None:
    assert world.run("apply", "--auto-approve").exit_code == 0
    source = json.loads(world.state_path.read_text())["source"]
    assert source == "sim://#E-template", source
    path = world.config / "workspace.yaml"
    path.write_text(path.read_text().replace("managed_user: E-template", "managed_user: E-other"))

    for command in (["plan"], ["apply", "--auto-approve"]):
        result = world.run(*command)
        assert result.exit_code == 1, result.output
        line = result.stderr.strip().splitlines()[-1]
        assert f"describes source {source}" in line, line
        assert "the config's source is sim://#E-other" in line, line


def test_a_first_apply_says_manifests_are_created_anew_and_names_adopt(world: World) -> None:
    result = world.run("apply", "--auto-approve")
    assert result.exit_code == 0
    assert "Note: no state recorded yet: 3 manifest(s) will be created anew" in result.stderr
    assert "rlcm adopt manifest.NAME ID" in result.stderr


def test_a_symlinked_state_file_stays_a_link_and_is_locked_beside_the_real_file(
    world: World,
) -> None:
    real = world.root / "elsewhere" / "real.state.json"
    real.parent.mkdir()
    assert world.run("apply", "--auto-approve").exit_code == 0
    world.state_path.rename(real)
    world.state_path.symlink_to(real)
    world.sim.bump_recipe_version("E-template", "Sync accounts")

    result = world.run("apply", "--auto-approve")

    assert result.exit_code == 0, result.output
    assert world.state_path.is_symlink() and world.state_path.resolve() == real
    assert json.loads(real.read_text())["serial"] > 1
    assert not (world.config / "rlcm.state.json.lock").exists()
    # a lock beside the real file holds off an apply through the link
    (real.parent / "real.state.json.lock").write_text("held by hand")
    locked = world.run("apply", "--auto-approve")
    assert locked.exit_code == 1 and "real.state.json.lock" in locked.stderr, locked.stderr


def test_a_local_server_on_another_port_is_the_same_source(world: World) -> None:
    """`rlcm sim serve --port 0` (or a local proxy) picks its port when it starts: a state
    made through it stays usable through the next port."""
    from reconciler.simulator.serve import running_server

    path = world.config / "workspace.yaml"
    original = path.read_text()
    urls = []
    for command in (["apply", "--auto-approve"], ["plan"]):
        with running_server(world.sim.directory) as url:
            urls.append(url)
            path.write_text(original.replace("base_url: sim://sim", f"base_url: {url}"))
            result = world.run(*command)
            assert result.exit_code == 0, result.output
    assert urls[0] != urls[1]
    assert json.loads(world.state_path.read_text())["source"] == "http://127.0.0.1#E-template"

"""Records in state that the config no longer has: the plan says how many and what --prune
would do, instead of leaving them out silently."""

from __future__ import annotations

from e2e_world import DemoWorld, RunCli


def _drop_fleet_customer(world: DemoWorld, customer: str) -> None:
    fleet = world.root / "fleet-emea.yaml"
    lines = fleet.read_text(encoding="utf-8").splitlines(keepends=True)
    fleet.write_text("".join(ln for ln in lines if f"customer: {customer}," not in ln))


def test_a_removed_target_is_counted_with_what_prune_would_do(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    _drop_fleet_customer(applied_config, "E-wonka")
    result = run_cli("plan", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    expected = (
        "3 state records no longer in the config (import.billing-alerts@E-wonka/2701, "
        "import.crm-sync@E-wonka/2701, import.shared-connections@E-wonka/2701): left alone; "
        "`--prune` would forget 3 records (nothing changes in Workato)"
    )
    assert expected in result.stderr
    assert expected in result.stdout  # in the pull request's plan comment too
    pruned = run_cli("plan", "--prune")
    assert "no longer in the config" not in pruned.stderr
    assert "- import.crm-sync@E-wonka/2701" in pruned.stdout


def test_a_removed_manifest_would_be_deleted_with_force(
    applied_config: DemoWorld, run_cli: RunCli
) -> None:
    for name in ("fleet-emea.yaml", "targets.yaml"):
        path = applied_config.root / name
        path.write_text(path.read_text().replace(", billing-alerts]", "]"))
    manifests = applied_config.root / "manifests.yaml"
    text = manifests.read_text()
    manifests.write_text(text[: text.index("---\nkind: Manifest\nname: billing-alerts")])
    result = run_cli("plan")
    assert result.exit_code == 0, result.stderr
    assert "14 state records no longer in the config (manifest.billing-alerts, " in result.stderr
    assert (
        "`--prune` would delete 1 manifest in Workato (apply needs --force) and forget "
        "13 records (nothing changes in Workato)"
    ) in result.stderr

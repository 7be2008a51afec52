"""Document and cross-reference checks: each error names file:line:col and says what to fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.config import load_config, load_desired

Errors = Callable[[Path], list[str]]
Write = Callable[..., Path]

TARGET = """\
---
kind: Target
name: acme
workspace: partner
customer: E-acme-001
folder_id: 1827
manifests: [shared, crm]
"""


def test_unknown_key_suggests_the_right_one(write: Write, errors_of: Errors) -> None:
    path = write(
        """\
        kind: Manifest
        name: crm-sync
        folder_id: 112
        asets:
          - {type: recipe, name: Sync accounts}
        """
    )
    assert 'config.yaml:4:1: manifest "crm-sync": unknown key "asets" (did you mean "assets"?)' in (
        errors_of(path)
    )


def test_nested_unknown_key_and_wrong_types(
    write: Write, errors_of: Errors, base_yaml: str
) -> None:
    path = write(
        base_yaml
        + TARGET
        + "restart_recipes: yes\n"
        + "folder_id_for_home_assets: abc\n"
        + "---\nkind: Manifest\nname: x\nfolder_id: 1\nassets: [{type: recipe, nme: y}]\n"
    )
    assert errors_of(path) == [
        'config.yaml:29:18: target "acme": restart_recipes: expected true or false, got "yes"',
        'config.yaml:30:28: target "acme": folder_id_for_home_assets: expected a whole number,'
        ' got "abc"',
        'config.yaml:35:10: manifest "x": assets[0]: missing required key "name"',
        'config.yaml:35:25: manifest "x": assets[0]: unknown key "nme" (did you mean "name"?)',
    ]


def test_unknown_kind_and_missing_kind(write: Write, errors_of: Errors) -> None:
    path = write("kind: Manifests\nname: a\n---\nname: b\n")
    assert errors_of(path) == [
        'config.yaml:1:7: unknown kind "Manifests" (did you mean "Manifest"?)',
        'config.yaml:4:1: missing required key "kind" (one of Workspace, Source, Manifest,'
        " Target, Fleet, Rollout, State)",
    ]


def test_customer_ids_are_strings_and_bare_ints_are_accepted(write: Write, base_yaml: str) -> None:
    text = base_yaml + TARGET.replace("customer: E-acme-001", "customer: 91928")
    target = load_desired(write(text)).targets["acme"]
    assert target.customer == "91928"


def test_customer_id_that_is_neither_numeric_nor_external(
    write: Write, errors_of: Errors, base_yaml: str
) -> None:
    path = write(base_yaml + TARGET.replace("customer: E-acme-001", "customer: acme"))
    assert errors_of(path) == [
        'config.yaml:26:11: target "acme": customer: expected a numeric managed-user id or E'
        ' followed by an external id (E-acme-001), got "acme"'
    ]


@pytest.mark.parametrize(
    "external", ["Eacme emea 01", "Eacme/emea/01", "Eops@acme.example", "Eäcme-東京"]
)
def test_any_external_id_after_e_is_a_customer(write: Write, base_yaml: str, external: str) -> None:
    text = base_yaml + TARGET.replace("customer: E-acme-001", f'customer: "{external}"')
    assert load_desired(write(text)).targets["acme"].customer == external


def test_the_cn_data_center_and_the_package_cap(write: Write, base_yaml: str) -> None:
    text = base_yaml.replace(
        "  base_url: sim://.rlcm/sim\n", "  data_center: cn\n  max_package_mb: 250\n"
    )
    workspace = load_desired(write(text)).workspaces["partner"]
    assert workspace.base_url == "https://app.workatoapp.cn"
    assert workspace.max_package_bytes == 250 * 1024 * 1024
    default = load_desired(write(base_yaml)).workspaces["partner"]
    assert default.max_package_bytes == 100 * 1024 * 1024  # Workato's import guide


def test_the_package_cap_must_be_positive(write: Write, errors_of: Errors, base_yaml: str) -> None:
    path = write(
        base_yaml.replace(
            "  base_url: sim://.rlcm/sim\n", "  base_url: sim://x\n  max_package_mb: 0\n"
        )
    )
    [line] = errors_of(path)
    assert line.startswith("config.yaml:5:19: ") and "max_package_mb" in line


def test_asset_version_must_be_positive(write: Write, errors_of: Errors, base_yaml: str) -> None:
    path = write(base_yaml.replace("version: 4", "version: 0"))
    assert errors_of(path) == [
        'config.yaml:21:50: manifest "crm": assets[0].version: must be at least 1, got 0'
    ]


def test_assets_and_auto_generate_are_exclusive(write: Write, errors_of: Errors) -> None:
    both = "kind: Manifest\nname: a\nfolder_id: 1\nassets: [{type: recipe, name: r}]\n"
    path = write(both + "auto_generate: {}\n---\nkind: Manifest\nname: b\nfolder_id: 2\n")
    lines = errors_of(path)
    assert 'config.yaml:5:1: manifest "a": give either assets or auto_generate, not both' in lines
    assert 'config.yaml:7:1: manifest "b": needs assets or auto_generate' in lines


def test_depends_on_cycle_is_printed(write: Write, errors_of: Errors, base_yaml: str) -> None:
    text = base_yaml.replace("folder_id: 110\n", "folder_id: 110\ndepends_on: [crm]\n")
    assert errors_of(write(text)) == [
        'config.yaml:10:1: manifest "shared": depends_on cycle: shared -> crm -> shared'
    ]


def test_unknown_references_suggest_names(write: Write, errors_of: Errors, base_yaml: str) -> None:
    text = base_yaml + TARGET.replace("workspace: partner", "workspace: partnr").replace(
        "[shared, crm]", "[shared, crm-sync]"
    )
    assert errors_of(write(text)) == [
        'config.yaml:25:12: target "acme": unknown workspace "partnr" (did you mean "partner"?)',
        'config.yaml:28:21: target "acme": unknown manifest "crm-sync" (did you mean "crm"?)',
    ]


def test_target_missing_a_dependency(write: Write, errors_of: Errors, base_yaml: str) -> None:
    path = write(base_yaml + TARGET.replace("[shared, crm]", "[crm]"))
    assert errors_of(path) == [
        'config.yaml:28:13: target "acme": manifest "crm" depends on "shared",'
        " which this target does not list"
    ]


def test_target_manifests_are_in_dependency_order(write: Write, base_yaml: str) -> None:
    desired = load_desired(write(base_yaml + TARGET.replace("[shared, crm]", "[crm, shared]")))
    assert desired.targets["acme"].manifests == ("shared", "crm")


def test_duplicate_names(write: Write, errors_of: Errors, base_yaml: str) -> None:
    text = base_yaml + "---\nkind: Manifest\nname: crm\nfolder_id: 5\nauto_generate: {}\n"
    text += TARGET + TARGET
    lines = errors_of(write(text))
    assert lines == [
        'config.yaml:24:7: manifest "crm": duplicate name (first at config.yaml:17:7)',
        'config.yaml:35:1: target "acme": duplicate name (first at config.yaml:28:1)',
    ]


def test_one_folder_claimed_with_different_settings(
    write: Write, errors_of: Errors, base_yaml: str
) -> None:
    other = TARGET.replace("name: acme", "name: acme-2").replace("[shared, crm]", "[shared]")
    text = base_yaml + TARGET.replace("[shared, crm]", "[crm, shared]").replace(
        "[crm, shared]", "[shared, crm]\nrestart_recipes: true"
    )
    lines = errors_of(write(text + other))
    assert lines == [
        'config.yaml:35:12: target "acme-2": folder 1827 already gets manifest "shared"'
        ' from target "acme" (config.yaml:23:1)',
        'config.yaml:35:12: target "acme-2": folder 1827 is also target "acme"'
        " (config.yaml:23:1) with different restart_recipes",
    ]


def test_fleet_expands_with_overrides(write: Write, base_yaml: str) -> None:
    fleet = """\
---
kind: Fleet
name: emea
workspace: partner
manifests: [shared, crm]
restart_recipes: true
customers:
  - {customer: E-globex, folder_id: 2211}
  - {customer: 91928, folder_id: 77, folder_id_for_home_assets: 78}
  - {customer: E-umbrella, folder_id: 2401, restart_recipes: false, manifests: [shared]}
"""
    targets = load_desired(write(base_yaml + fleet)).targets
    assert list(targets) == ["E-globex/2211", "91928/77", "E-umbrella/2401"]
    assert targets["91928/77"].folder_id_for_home_assets == 78
    assert targets["E-umbrella/2401"].restart_recipes is False
    assert targets["E-umbrella/2401"].manifests == ("shared",)
    assert targets["E-globex/2211"].restart_recipes is True


def test_own_workspace_target_address(write: Write, base_yaml: str) -> None:
    text = (
        base_yaml + "---\nkind: Target\nworkspace: partner\nfolder_id: 610\nmanifests: [shared]\n"
    )
    assert list(load_desired(write(text)).targets) == ["self/610"]


def test_waves_without_rollout(write: Write, errors_of: Errors, base_yaml: str) -> None:
    path = write(base_yaml + TARGET + "wave: canary\n")
    assert errors_of(path) == [
        'config.yaml:29:7: target "acme": wave "canary" needs a Rollout that lists it'
        ' (without a Rollout every target is in wave "default")'
    ]


def test_waves_with_rollout(write: Write, errors_of: Errors, base_yaml: str) -> None:
    rollout = "---\nkind: Rollout\nwaves: [canary, main]\n"
    other = TARGET.replace("name: acme", "name: b").replace("1827", "2")
    path = write(base_yaml + TARGET + "wave: mian\n" + other + rollout)
    assert errors_of(path) == [
        'config.yaml:29:7: target "acme": unknown wave "mian" (did you mean "main"?):'
        " the Rollout lists canary, main",
        'config.yaml:31:1: target "b": has no wave, so it is in wave "default",'
        " which the Rollout does not list (canary, main)",
    ]


def test_rollout_settings_and_limits(write: Write, errors_of: Errors, base_yaml: str) -> None:
    path = write(base_yaml + "---\nkind: Rollout\nwaves: [default]\nmax_parallel: 0\n")
    assert errors_of(path) == [
        "config.yaml:25:15: rollout: max_parallel: must be at least 1, got 0"
    ]
    rollout = load_desired(write(base_yaml + "---\nkind: Rollout\nwaves: [default]\n")).rollout
    assert (rollout.max_parallel, rollout.halt_after_failures) == (8, None)  # no brake
    assert rollout.gate("default").max_failures.budget(100) == 0  # the gate: no failure


def test_waves_are_names_or_mappings_with_a_gate(write: Write, base_yaml: str) -> None:
    text = (
        base_yaml
        + "---\nkind: Rollout\nwaves:\n  - canary\n  - {name: default, max_failures: 5%}\n"
    )
    rollout = load_desired(write(text)).rollout
    assert rollout.waves == ("canary", "default")
    assert rollout.gate("canary").max_failures.budget(10) == 0
    assert [rollout.gate("default").max_failures.budget(n) for n in (19, 20, 100)] == [0, 1, 5]


def test_batches_are_cumulative_sizes_over_the_wave(write: Write, base_yaml: str) -> None:
    text = base_yaml + (
        "---\nkind: Rollout\nwaves:\n  - {name: default, batches: [1, 10%, 50%, 100%]}\n"
    )
    gate = load_desired(write(text)).rollout.gate("default")
    assert gate.batch_sizes(20) == (1, 2, 10, 20)
    assert gate.batch_sizes(3) == (1, 2, 3)  # 10% of 3 rounds up to 1: no empty batch
    assert gate.batch_sizes(1) == (1,)


def test_a_wave_listed_twice_by_name_and_mapping(
    write: Write, errors_of: Errors, base_yaml: str
) -> None:
    text = base_yaml + "---\nkind: Rollout\nwaves:\n  - default\n  - {name: default}\n"
    assert errors_of(write(text)) == ['config.yaml:26:5: rollout: waves lists "default" twice']


def test_only_one_rollout_and_one_source(write: Write, errors_of: Errors, base_yaml: str) -> None:
    text = base_yaml + "---\nkind: Source\nworkspace: partner\n"
    text += "---\nkind: Rollout\nwaves: [default]\n" * 2
    lines = errors_of(write(text))
    assert lines[0].startswith("config.yaml:23:1: source: only one Source is allowed (first at ")
    assert lines[1].startswith("config.yaml:29:1: rollout: only one Rollout is allowed")


def test_no_source(write: Write, errors_of: Errors, base_yaml: str) -> None:
    text = base_yaml.replace(
        "kind: Source\nworkspace: partner\nmanaged_user: E-template\n---\n", ""
    )
    path = write(text)
    assert errors_of(path) == [
        "config.yaml: no Source document: add `kind: Source` naming the source workspace"
    ]


@pytest.mark.parametrize(
    ("api", "message"),
    [
        (
            "  auth: legacy\n  base_url: https://www.workato.com\n",
            'config.yaml:4:9: workspace "partner": auth "legacy" needs email_env',
        ),
        (
            "  base_url: https://www.workato.com\n  data_center: eu\n",
            'config.yaml:5:3: workspace "partner": api: give base_url or data_center, not both',
        ),
        (
            "  data_center: de\n",
            'config.yaml:4:16: workspace "partner": api.data_center: must be "us", "eu", "jp",'
            ' "sg", "au", "il", "kr", "cn" or "trial", got "de"',
        ),
        (
            "  token_env: wrk_abc-123.xyz\n  data_center: us\n",
            'config.yaml:4:14: workspace "partner": api.token_env: expected an environment'
            " variable name (letters, digits, _), never the secret itself (the value is"
            " not shown: it may be a pasted secret)",
        ),
        (
            "  data_center: us\n  rate_limits: {imports: -1}\n",
            'config.yaml:5:26: workspace "partner": api.rate_limits.imports: must be greater'
            " than 0, got -1",
        ),
    ],
)
def test_workspace_api_errors(write: Write, errors_of: Errors, api: str, message: str) -> None:
    path = write("kind: Workspace\nname: partner\napi:\n" + api)
    assert errors_of(path) == [message]


def test_workspace_settings(write: Write) -> None:
    text = """\
    kind: Workspace
    name: eu
    api:
      data_center: eu
      auth: legacy
      email_env: WORKATO_API_EMAIL
      rate_limits: {other: 30}
      timeout: 10
      poll: {interval: 1, timeout: 60}
    """
    ws = load_desired(write(text)).workspaces["eu"]
    assert ws.base_url == "https://app.eu.workato.com"
    assert (ws.auth, ws.email_env, ws.token_env) == (
        "legacy",
        "WORKATO_API_EMAIL",
        "WORKATO_API_TOKEN",
    )
    assert (ws.rate_limits.other, ws.rate_limits.imports) == (30, 1000)
    assert ws.request_timeout == 10
    assert (ws.poll.interval, ws.poll.max_interval, ws.poll.timeout) == (1, 15, 60)


def test_sim_urls_are_relative_to_the_yaml_file(write: Write, base_yaml: str) -> None:
    path = write(base_yaml, "config.yaml")
    ws = load_desired(path.parent).workspaces["partner"]
    assert ws.base_url == f"sim://{path.parent.resolve() / '.rlcm' / 'sim'}"


def test_unknown_asset_type_is_a_warning(write: Write, base_yaml: str) -> None:
    text = base_yaml.replace("type: recipe", "type: agentic_genie")
    loaded = load_config(write(text))
    assert [w.message.rsplit("/", 1)[-1] for w in loaded.warnings] == [
        'config.yaml:21:12: manifest "crm": assets[0]: unknown asset type "agentic_genie"'
        " (passed on as is)"
    ]
    assert loaded.desired.manifests["crm"].assets is not None


def test_a_known_quota_can_be_stated_per_hour_and_as_a_fixed_window(
    write: Write, base_yaml: str
) -> None:
    from reconciler.workato.limits import quota_of

    limits = (
        "  rate_limits:\n"
        "    imports: {requests: 500, per: hour, window: fixed}\n"
        "    other: {requests: 30}\n"
        "    import_status: 900\n"
        "    max_wait: 4000\n"
    )
    text = base_yaml.replace("  base_url: sim://.rlcm/sim\n", "  base_url: sim://x\n" + limits)
    rates = load_desired(write(text)).workspaces["partner"].rate_limits
    assert quota_of(rates, "imports") == (500, 3600.0, True)  # resets at the top of the hour
    assert quota_of(rates, "other") == (30, 60.0, False)
    assert quota_of(rates, "import_status") == (900, 60.0, False)  # a number: per minute
    assert quota_of(rates, "dev_imports") == (500, 3600.0, False)  # Workato's 500/hour
    assert rates.max_wait == 4000


def test_the_buckets_stated_only_per_minute_are_kept_beside_the_stated_quotas(
    write: Write, base_yaml: str
) -> None:
    from reconciler.workato.limits import quota_of

    limits = (
        "  rate_limits:\n"
        "    imports: {requests: 500, per: hour}\n"
        "    folders: 5\n"
        "    customers: 7\n"
        "    recipes: 100\n"
        "    recipe_actions: 50\n"
        "    dev_recipes: 20\n"
    )
    text = base_yaml.replace("  base_url: sim://.rlcm/sim\n", "  base_url: sim://x\n" + limits)
    rates = load_desired(write(text)).workspaces["partner"].rate_limits
    assert quota_of(rates, "imports") == (500, 3600.0, False)
    assert [quota_of(rates, b)[0] for b in ("folders", "customers", "recipes")] == [5, 7, 100]
    assert (rates.recipe_actions, rates.dev_recipes) == (50, 20)


def test_a_stated_quota_with_a_wrong_window_names_the_key(
    write: Write, errors_of: Errors, base_yaml: str
) -> None:
    limits = "  rate_limits:\n    imports: {requests: 500, per: day}\n"
    text = base_yaml.replace("  base_url: sim://.rlcm/sim\n", "  base_url: sim://x\n" + limits)
    [line] = errors_of(write(text))
    assert line.startswith('config.yaml:6:35: workspace "partner": api.rate_limits.imports.per:')
    assert '"minute" or "hour", got "day"' in line


def test_recipes_running_state_on_targets_and_fleets(write: Write, base_yaml: str) -> None:
    path = write(
        base_yaml + "---\nkind: Target\nname: acme\nworkspace: partner\ncustomer: E-acme\n"
        "folder_id: 1\nmanifests: [shared]\nrecipes: running\n"
        "---\nkind: Fleet\nname: emea\nworkspace: partner\nmanifests: [shared]\n"
        "recipes: stopped\ncustomers:\n  - {customer: E-a, folder_id: 2}\n"
        "  - {customer: E-b, folder_id: 3, recipes: unchanged}\n"
        "---\nkind: Target\nworkspace: partner\ncustomer: E-c\nfolder_id: 4\n"
        "manifests: [shared]\n"
    )
    targets = load_desired(path).targets
    assert {a: t.recipes for a, t in targets.items()} == {
        "acme": "running",
        "E-a/2": "stopped",
        "E-b/3": "unchanged",
        "E-c/4": "unchanged",  # the default
    }


def test_an_unknown_recipes_state_names_its_line(
    write: Write, base_yaml: str, errors_of: Errors
) -> None:
    path = write(
        base_yaml + "---\nkind: Target\nname: acme\nworkspace: partner\ncustomer: E-acme\n"
        "folder_id: 1\nmanifests: [shared]\nrecipes: started\n"
    )
    (line,) = errors_of(path)
    assert line == (
        'config.yaml:29:10: target "acme": recipes: must be "running", "stopped" or '
        '"unchanged", got "started"'
    )


def test_bake_and_health_of_a_wave(write: Write, base_yaml: str) -> None:
    text = base_yaml + (
        "---\nkind: Rollout\nwaves:\n  - {name: canary, bake: 1h30m}\n"
        "  - {name: default, bake: 2s, health: {max_new_failed_jobs: 3}}\n"
    )
    rollout = load_desired(write(text)).rollout
    canary, rest = rollout.gate("canary"), rollout.gate("default")
    assert canary.bake == 5400.0
    assert canary.health is not None and canary.health.recipes_running  # the defaults
    assert rest.bake == 2.0
    assert rest.health is not None and rest.health.max_new_failed_jobs == 3

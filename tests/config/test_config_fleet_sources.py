"""Folders by path, generated fleets and Environments in the config: what resolves, and
the errors (file:line:col) of what cannot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconciler.config import load_desired

Errors = Callable[[Path], list[str]]
Write = Callable[..., Path]

GENERATED = """\
---
kind: Fleet
name: all
workspace: partner
manifests: [shared, crm]
from_workato: {external_id: "cust-*", plan_id: [oem_plan], exclude: [E-cust-test]}
folder: Integrations/CRM
create_folders: true
customers:
  - {customer: E-cust-7, restart_recipes: true}
"""


def test_a_generated_fleet_is_a_fleet_source_not_targets(write: Write, base_yaml: str) -> None:
    desired = load_desired(write(base_yaml + GENERATED))
    assert desired.targets == {}
    (source,) = desired.fleet_sources
    assert source.select.external_id == ("cust-*",)
    assert source.select.exclude == ("E-cust-test",)
    assert source.template.folder_path == "Integrations/CRM"
    assert source.template.create_folders and source.template.manifests == ("shared", "crm")
    (override,) = source.overrides["E-cust-7"]
    assert override.restart_recipes and override.address == "E-cust-7/Integrations/CRM"
    assert desired.needs_live_targets


def test_environment_lists_make_one_target_per_environment_in_waves(
    write: Write, base_yaml: str
) -> None:
    target = (
        "---\nkind: Target\nworkspace: partner\ncustomer: E-acme\nfolder: CRM\n"
        "manifests: [shared]\nenvironment: [test, prod]\n"
    )
    desired = load_desired(write(base_yaml + target))
    assert {a: t.wave for a, t in desired.targets.items()} == {
        "E-acme_test/CRM": "test",
        "E-acme_prod/CRM": "prod",
    }
    assert desired.rollout.waves == ("default", "test", "prod")


def test_folder_and_environment_errors_name_the_place(
    write: Write, errors_of: Errors, base_yaml: str
) -> None:
    text = base_yaml + (
        "---\nkind: Target\nname: both\nworkspace: partner\ncustomer: E-a\nfolder_id: 3\n"
        "folder: A\nmanifests: [shared]\n"
        "---\nkind: Target\nname: none\nworkspace: partner\ncustomer: E-a\nmanifests: [shared]\n"
        "---\nkind: Target\nname: own\nworkspace: partner\nfolder_id: 4\nmanifests: [shared]\n"
        "environment: test\n"
        "---\nkind: Fleet\nname: nofolder\nworkspace: partner\nmanifests: [shared]\n"
        "from_workato: {name: x}\n"
        "---\nkind: Target\nname: badpath\nworkspace: partner\ncustomer: E-a\n"
        "folder: A//B\nmanifests: [shared]\n"
    )
    found = errors_of(write(text))
    assert 'config.yaml:28:1: target "both": give folder_id or folder, not both' in found
    assert any('target "none": needs folder_id or folder (a path)' in e for e in found)
    assert any(
        'target "own": environment needs a customer' in e and "config.yaml:42:1" in e for e in found
    )
    assert any('fleet "nofolder": from_workato needs a folder' in e for e in found)
    assert any("folder: " in e and "folder names joined by /" in e for e in found)

"""Hostile YAML through the command line: refused with one clear line naming the file.

No speed target here (those live in benchmarks/): HANG_S only tells "refused" from "still
chewing", since a vulnerable loader takes many minutes or all memory on these inputs, and a
loaded 2-core CI machine can take seconds for the 6 MB ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hardening_world import World, check_result, record

HANG_S = 90.0


def alias_bomb() -> str:
    lines = ["kind: Source", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def recursive_alias() -> str:
    return "kind: Source\nworkspace: &a [*a]\n"


def deep_flow() -> str:
    return "kind: Source\nworkspace: " + "[" * 20000 + "]" * 20000 + "\n"


def deep_flow_mapping() -> str:
    return "kind: Source\nworkspace: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"


def deep_block() -> str:
    lines = ["kind: Source", "workspace:"]
    lines += [" " * i + "- " for i in range(1, 1500)]
    return "\n".join(lines) + "1\n"


def python_tag() -> str:
    return 'kind: Source\nworkspace: !!python/object/apply:os.system ["echo pwned"]\n'


def custom_tag() -> str:
    return "kind: Workspace\nname: !env WORKATO_API_TOKEN\n"


def huge_file() -> str:
    return "kind: Source\n# " + "x" * (6 * 1024 * 1024) + "\n"


def many_documents() -> str:
    return "---\nkind: Rollout\nwaves: [a]\n" * 2000


def long_scalar() -> str:
    return "kind: Source\nworkspace: " + "w" * (1024 * 1024) + "\n"


HOSTILE: dict[str, Callable[[], str]] = {
    "alias_bomb": alias_bomb,
    "recursive_alias": recursive_alias,
    "deep_flow": deep_flow,
    "deep_flow_mapping": deep_flow_mapping,
    "deep_block": deep_block,
    "python_tag": python_tag,
    "custom_tag": custom_tag,
    "huge_file": huge_file,
    "many_documents": many_documents,
    "long_scalar": long_scalar,
}


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_is_refused_fast(world: World, case: str, command: str) -> None:
    record("hostile_tried")
    path: Path = world.config / "zz-hostile.yaml"
    path.write_text(HOSTILE[case]())
    started = time.perf_counter()
    result = world.run(command)
    elapsed = time.perf_counter() - started
    check_result(world, result)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors and any("zz-hostile.yaml" in line for line in errors), errors
    assert len(errors) <= 51  # at most 50 errors and a count of the rest
    assert all(len(line) < 400 for line in errors)
    assert elapsed < HANG_S, f"{case} took {elapsed:.1f}s"
    assert not world.state_path.exists()  # nothing was run against the API
    record("hostile_handled")

"""The configuration reference (`docs/configuration.md`), generated from the JSON Schema.

The schema is generated from kinds.py, whose field descriptions are the single source of
truth; this module only lays them out: one section per kind, one table row per key (nested
objects and list entries as dotted paths such as `api.rate_limits.imports` or
`customers[].folder_id`), the schema's cross-key rules as notes, and one example per kind
taken from `examples/manifests/`. The output depends only on the schema and the examples,
so a test can compare the committed file with a fresh generation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config.kinds import NAME_PATTERN, PATTERN_HINTS

__all__ = [
    "DOC_FILE_NAME",
    "KIND_ORDER",
    "KeyRow",
    "default_examples_dir",
    "key_rows",
    "kind_definitions",
    "reference_markdown",
]

DOC_FILE_NAME = "configuration.md"
KIND_ORDER = ("Workspace", "Source", "Manifest", "Target", "Fleet", "Rollout", "State")
_EXAMPLE_ITEMS = 3  # one-line list entries kept in an example before "# ... N more"
_DEFAULT_IN_TEXT = re.compile(r"\(default ([^,;)]+)")
_TOP_LEVEL_KEY = re.compile(r"^[a-z_]+:")

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class KeyRow:
    """One key of a kind, as a row of the reference table."""

    path: str
    type: str
    required: bool
    default: str
    description: str


def default_examples_dir() -> Path | None:
    """`examples/manifests/` of the source tree rlcm runs from, if it is there."""
    candidate = Path(__file__).resolve().parents[2] / "examples" / "manifests"
    return candidate if candidate.is_dir() else None


def kind_definitions(schema: Schema) -> dict[str, Schema]:
    """Each kind's object schema, in KIND_ORDER (the discriminator maps kind -> $ref)."""
    mapping = schema["discriminator"]["mapping"]
    return {kind: _resolve(schema, {"$ref": mapping[kind]}) for kind in KIND_ORDER}


def key_rows(schema: Schema, definition: Schema, prefix: str = "") -> list[KeyRow]:
    """Every key of `definition`, depth first, nested objects and list entries included."""
    rows: list[KeyRow] = []
    required = set(definition.get("required", ()))
    for key, prop in definition.get("properties", {}).items():
        path = f"{prefix}{key}"
        target = _resolve(schema, prop)
        rows.append(
            KeyRow(
                path=path,
                type=_type(schema, prop),
                required=key in required,
                default=_default(prop),
                description=_description(prop, target),
            )
        )
        rows += _nested_rows(schema, target, path)
    return rows


def _nested_rows(schema: Schema, target: Schema, path: str) -> list[KeyRow]:
    if "properties" in target:
        return key_rows(schema, target, f"{path}.")
    items = target.get("items")
    if items is not None:
        for entry in _options(schema, items):
            if "properties" in entry:
                return key_rows(schema, entry, f"{path}[].")
    return []


def _options(schema: Schema, prop: Schema) -> list[Schema]:
    """A schema, or each alternative of a oneOf/anyOf (a wave: a name or a mapping)."""
    target = _resolve(schema, prop)
    alternatives = target.get("oneOf") or target.get("anyOf")
    if alternatives:
        return [_resolve(schema, option) for option in alternatives]
    return [target]


def _resolve(schema: Schema, prop: Schema) -> Schema:
    ref = prop.get("$ref")
    if ref is None:
        return prop
    name = str(ref).removeprefix("#/$defs/")
    resolved: Schema = schema["$defs"][name]
    return resolved


def _type(schema: Schema, prop: Schema) -> str:
    target = _resolve(schema, prop)
    if "const" in target:
        return f"`{target['const']}`"
    if "enum" in target:
        return "one of " + ", ".join(f"`{value}`" for value in target["enum"])
    if "anyOf" in target:
        return " or ".join(_type(schema, option) for option in target["anyOf"])
    if "oneOf" in target and "properties" not in target:  # a value of one of two shapes
        return " or ".join(_type(schema, option) for option in target["oneOf"])
    kind = target.get("type", "any")
    if kind == "array":
        options = _options(schema, target.get("items", {}))
        item = " or ".join(
            "objects" if "properties" in items else f"{items.get('type', 'any')}s"
            for items in options
        )
        text = f"list of {item}"
    else:
        text = str(kind)
    limits = _limits(target)
    return f"{text}, {limits}" if limits else text


def _limits(target: Schema) -> str:
    parts = []
    if "exclusiveMinimum" in target:
        parts.append(f"> {target['exclusiveMinimum']}")
    if "minimum" in target:
        parts.append(f"≥ {target['minimum']}")
    if "maximum" in target:
        parts.append(f"≤ {target['maximum']}")
    if target.get("minItems"):
        parts.append(f"at least {target['minItems']}")
    if target.get("minLength"):
        parts.append("not empty")
    return ", ".join(parts)


def _default(prop: Schema) -> str:
    """The schema's default, else one the description states as `(default X)`."""
    if "default" in prop:
        value = prop["default"]
        return f"`{value if isinstance(value, str) else json.dumps(value)}`"
    found = _DEFAULT_IN_TEXT.search(str(prop.get("description", "")))
    return f"`{found.group(1).strip(chr(34))}`" if found else ""


def _description(prop: Schema, target: Schema) -> str:
    text = str(prop.get("description") or target.get("description") or "")
    pattern = target.get("pattern") or _item_pattern(target)
    hint = PATTERN_HINTS.get(str(pattern)) if pattern and pattern != NAME_PATTERN else None
    if hint is None and "anyOf" in target:
        hint = next(
            (PATTERN_HINTS[o["pattern"]] for o in target["anyOf"] if o.get("pattern")), None
        )
    return f"{text} Format: {hint}." if hint else text


def _item_pattern(target: Schema) -> str | None:
    items = target.get("items")
    return items.get("pattern") if isinstance(items, Mapping) else None


# -- rules that span keys -----------------------------------------------------------------


def _notes(schema: Schema, definition: Schema, prefix: str = "") -> Iterator[str]:
    """The schema's oneOf / if-then rules of an object and of the objects inside it."""
    exclusive = [
        branch["required"][0] for branch in definition.get("oneOf", ()) if branch.get("required")
    ]
    if exclusive:
        names = " or ".join(f"`{prefix}{key}`" for key in exclusive)
        yield f"Give exactly one of {names}."
    condition, then = definition.get("if"), definition.get("then")
    if condition and then:
        [(key, rule)] = condition["properties"].items()
        needed = ", ".join(f"`{prefix}{name}`" for name in then["required"])
        yield f"{needed} is required when `{prefix}{key}` is `{rule['const']}`."
    for key, prop in definition.get("properties", {}).items():
        target = _resolve(schema, prop)
        if "properties" in target:
            yield from _notes(schema, target, f"{prefix}{key}.")
        elif "items" in target and "properties" in _resolve(schema, target["items"]):
            yield from _notes(schema, _resolve(schema, target["items"]), f"{prefix}{key}[].")


# -- examples -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Example:
    file: str
    kind: str
    text: str

    @property
    def key_count(self) -> int:
        return sum(1 for line in self.text.splitlines() if _TOP_LEVEL_KEY.match(line))


def _examples(directory: Path) -> list[_Example]:
    found: list[_Example] = []
    for path in sorted(directory.glob("*.y*ml")):
        raw = path.read_text(encoding="utf-8")
        for chunk in re.split(r"^---[ \t]*$", raw, flags=re.MULTILINE):
            lines = [
                ln for ln in chunk.strip("\n").splitlines() if "yaml-language-server" not in ln
            ]
            kind = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("kind:")), "")
            if kind:
                found.append(_Example(path.name, kind, "\n".join(_shorten(lines))))
    return found


def _shorten(lines: list[str]) -> list[str]:
    """Keep the first few entries of a long list of one-line entries (a fleet's customers)."""
    kept: list[str] = []
    run = dropped = 0
    for line in [*lines, ""]:
        if line.startswith("  - "):
            run += 1
            if run > _EXAMPLE_ITEMS:
                dropped += 1
                continue
        else:
            if dropped:
                kept.append(f"  # ... {dropped} more")
            run = dropped = 0
        kept.append(line)
    return kept[:-1]


def _best_example(examples: list[_Example], kind: str) -> _Example | None:
    """The document of that kind that shows the most keys (the first one on a tie)."""
    candidates = [example for example in examples if example.kind == kind]
    if not candidates:
        return None
    return max(candidates, key=lambda example: example.key_count)


# -- the page -----------------------------------------------------------------------------

_INTRO = """\
<!-- Generated by `rlcm schema` from schemas/rlcm.schema.json; do not edit by hand. -->

# Configuration reference

A config is one YAML file or a directory of `*.yaml` / `*.yml` files. Each file holds one or
more documents separated by `---`, and each document has a `kind`:

{kinds}

Unknown keys are errors, values are not coerced (`"8"` is not a number), and every error
names the file, line and column. Secrets never appear in YAML, only the names of the
environment variables that hold them (`token_env`, `email_env`).

Start each file with a modeline so that editors complete and check it against the
[JSON Schema](../schemas/rlcm.schema.json):

```yaml
# yaml-language-server: $schema=../schemas/rlcm.schema.json
```

`rlcm validate` checks a config offline, including what a schema cannot: references between
documents, `depends_on` cycles, waves and duplicate names.

In the tables, a key path such as `api.rate_limits.imports` is a key inside a mapping, and
`assets[].name` is a key of each entry of a list. *Required* means required where its parent
is given.
"""


_QUOTAS = """\
## Quotas are a belief

`api.rate_limits` states what rlcm believes of the Workspace's quotas; the defaults are the
ones Workato publishes (embedded imports and import status 1,000 a minute each, every other
RLCM call 60 a minute, developer-API imports 500 an hour). Workato's own pages disagree
(one gives 1,000 imports a minute, the endpoint's page "a strict limit of 500 package
import requests per hour per workspace", reset at the hour) and quotas differ by plan, so
rlcm corrects the belief from Workato's answers while it runs:

- every task of a Workspace shares one bucket per quota, and rlcm paces its requests so
  that the bucket never starts more than it believes Workato allows. A bucket also lets
  only a few requests wait for their answers at once (as many as it could start in a
  tenth of its window at Workato's usual half-second answer: 5 for 60 a minute, the
  client's 16 connections for 1,000 a minute), so that when Workato is stricter than the
  belief, few requests are already on their way behind its first refusal;
- a 429 slows the whole bucket at once: with `Retry-After` (seconds or an HTTP date)
  nothing of that bucket starts before then, at most an hour and a minute later; without
  one the bucket backs off (doubling, at most one window). Then one request probes while
  the others wait for its answer, and after it the requests in flight may double with each
  round trip until a window passes without a 429;
- one 429 alone (none in the ten windows before it) is only waited out: an injected fault,
  a hiccup or another client's burst draws one too, and the bucket goes on at the rate it
  believed. A second 429 soon after (the probe refused, or a refusal after it) is the
  quota speaking: the bucket now believes the number of requests Workato accepted in the
  window (the server's real quota, in one step; half its rate when Workato accepted none).
  A `Retry-After` longer than the bucket's window says Workato counts by the hour: that one
  429 suffices, and the bucket learns the hourly window. So does a `Retry-After` that
  agrees with the count (the window frees the oldest request Workato accepted about then);
  `Retry-After: 1`, the least a server can say, confirms nothing;
- after clean windows the rate climbs back towards the configured quota (quickly to where
  it was before a halving, then by a twentieth every second window), which costs about
  one 429 per step if the server is stricter;
- a 429 is "wait", not a failed attempt: it never turns a request into a failure while the
  request's total wait stays within `rate_limits.max_wait` (default 7,200 s, long enough to
  wait out an hourly window). Only then does it fail, as `RateLimitedError`, and at once
  when Workato's `Retry-After` alone asks for longer (a daily quota spent), saying so;
- while a bucket waits, the apply's progress line says so (`waiting on Workato: bucket
  imports until 14:00:05 UTC (429 with Retry-After 3400 s)`) and the log has a WARNING
  line `quota: waiting on Workato bucket=imports until=... reason=...`.

When you know your quota, state it, per minute or per hour, and whether its window slides
or resets on the clock:

```yaml
api:
  rate_limits:
    imports: {requests: 500, per: hour, window: fixed}   # "denied until the following hour"
    other: 30                                            # a number: requests per minute
```

`rlcm plan` and the start of `rlcm apply` estimate the apply's duration from these quotas
and name the one that binds (`3,000 imports at 500/hour (fixed window): at least 5 h 3 min`:
the first 500 go at once, then one hour for each further 500, then the jobs of the last
500, `max_parallel` at a time, each at least one poll interval; the exports come first).
When no quota binds, the job rounds do: targets run their imports one after another, at
most `max_parallel` at once, a target under way served first until the end of a wave is
in sight, when the targets with the most imports left go first (100 targets of 3 imports
at `max_parallel: 32` take the 10 rounds 300 / 32 gives, not 4 groups of 3). `rlcm plan`'s
estimate also counts the refresh `rlcm apply` makes before its first step (a read per
source folder and per manifest in state, in the "other" bucket; a recipe list per imported
target): no step starts before it is done (`..., after 40 "other" calls (the refresh's
reads) at 30/minute`), and the "other" bucket's term counts its reads and the steps' calls together
(`80 "other" calls (20 of them the refresh's reads) at 60/minute`). The start of `rlcm
apply` says its estimate once that refresh is done, without it. A Workato stricter than
the config makes the apply longer than the estimate.
"""


def reference_markdown(schema: Schema, examples_dir: Path | None = None) -> str:
    """The whole page; deterministic for a given schema and examples directory."""
    definitions = kind_definitions(schema)
    examples = _examples(examples_dir) if examples_dir is not None else []
    kinds = "\n".join(
        f"- [`{kind}`](#{kind.lower()}): {definition.get('description', '')}"
        for kind, definition in definitions.items()
    )
    parts = [_INTRO.format(kinds=kinds)]
    for kind, definition in definitions.items():
        parts.append(_section(schema, kind, definition, _best_example(examples, kind)))
    parts.append(_QUOTAS)
    return "\n".join(parts).rstrip("\n") + "\n"


def _section(schema: Schema, kind: str, definition: Schema, example: _Example | None) -> str:
    lines = [f"## {kind}", "", str(definition.get("description", "")), ""]
    lines += [
        "| Key | Type | Required | Default | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in key_rows(schema, definition):
        cells = [
            f"`{row.path}`",
            row.type,
            "yes" if row.required else "no",
            row.default,
            row.description,
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    notes = list(_notes(schema, definition))
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    if example is not None:
        lines += ["", f"Example (from `examples/manifests/{example.file}`):", ""]
        lines += ["```yaml", example.text, "```"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Table-safe: no pipes, no raw angle brackets (`app.<dc>` is not an HTML tag)."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")

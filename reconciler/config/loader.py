"""Read YAML config files safely into plain data that remembers where it came from.

Nothing here trusts the input: ruamel.yaml only composes the node graph (its constructor,
which knows about tags, is never run). We build plain dicts, lists and scalars ourselves,
so custom tags such as `!!python/object` cannot do anything but produce an error, and
every mapping and list keeps the file:line:col of its keys and items for error messages.
Alias bombs, deep nesting, huge files, tabs, duplicate keys and non-UTF-8 bytes are all
reported as `ConfigError`s with positions, collected rather than raised one by one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError, Location

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Document",
    "YamlMap",
    "YamlSeq",
    "config_files",
    "load_documents",
    "quote",
]

# A config file is hand-written YAML: even a 20,000-customer fleet is under 1 MB, and
# ruamel parses ~3 s per MB, so anything bigger is refused before parsing.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 100_000  # per document, counting every alias expansion
MAX_DEPTH = 64
YAML_SUFFIXES = (".yaml", ".yml")

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG = f"{_CORE}map"
_SEQ_TAG = f"{_CORE}seq"
_MERGE_TAG = f"{_CORE}merge"


def quote(text: str, limit: int = 60) -> str:
    """User text in a one-line message: double-quoted, escaped, shortened."""
    short = text if len(text) <= limit else text[: limit - 3] + "..."
    return json.dumps(short, ensure_ascii=False)


class YamlMap(dict[str, Any]):
    """A YAML mapping as a dict, with the locations of itself, its keys and its values."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.key_locations: dict[str, Location] = {}
        self.value_locations: dict[str, Location] = {}


class YamlSeq(list[Any]):
    """A YAML sequence as a list, with the locations of itself and its items."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.item_locations: list[Location] = []


@dataclass(frozen=True)
class Document:
    """One YAML document of one file: its data (YamlMap for every valid config document)."""

    file: str
    index: int  # 0-based position among the file's documents
    data: Any
    location: Location


@dataclass
class _Loaded:
    documents: list[Document] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)


class _Refused(Exception):
    """Abandons one document; the ConfigError says why."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(error.message)
        self.error = error


def config_files(path: Path) -> list[Path]:
    """The YAML files a config path stands for: the file itself, or a directory's
    `*.yaml`/`*.yml` files (not recursive, hidden files skipped), sorted by name."""
    if not path.exists():
        raise ConfigError("no such file or directory", Location(str(path)))
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.suffix in YAML_SUFFIXES and p.is_file() and not p.name.startswith(".")
        )
        if not files:
            raise ConfigError("no *.yaml or *.yml files in this directory", Location(str(path)))
        return files
    return [path]


def load_documents(path: Path) -> tuple[list[Document], list[ConfigError], list[str]]:
    """Every document of every config file, the errors found, and the files read."""
    try:
        files = config_files(path)
    except ConfigError as exc:
        return [], [exc], []
    result = _Loaded()
    for file in files:
        _load_file(file, result)
    return result.documents, result.errors, [str(f) for f in files]


def _load_file(path: Path, result: _Loaded) -> None:
    name = str(path)
    text = _read_text(path, result)
    if text is None:
        return
    too_deep = _flow_nesting_error(text, name)
    if too_deep is not None:
        result.errors.append(too_deep)
        return
    for index, node in _compose(text, name, result):
        try:
            data = _Builder(name).document(node)
        except _Refused as exc:
            result.errors.append(exc.error)
            continue
        result.documents.append(Document(name, index, data, _loc(name, node.start_mark)))


def _read_text(path: Path, result: _Loaded) -> str | None:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // (1024 * 1024)
            result.errors.append(ConfigError(f"file is larger than {limit} MB", Location(name)))
            return None
        raw = path.read_bytes()
    except OSError as exc:
        result.errors.append(ConfigError(f"cannot read file: {exc.strerror}", Location(name)))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
        result.errors.append(ConfigError(message, Location(name, line, col)))
        return None


def _flow_nesting_error(text: str, name: str) -> ConfigError | None:
    """Deep `[[[...` / `{{{...` nesting, found by one linear scan before parsing: ruamel's
    parser takes seconds (quadratic) on thousands of open flow brackets."""
    depth, line, col, quote, comment = 0, 1, 0, "", False
    previous = "\n"
    for char in text:
        col += 1
        if char == "\n":
            line, col, comment = line + 1, 0, False
            if not quote:
                previous = char
                continue
        if comment:
            continue
        if quote:
            if char == quote and previous != "\\":
                quote = ""
            previous = "" if previous == "\\" and char == "\\" else char
            continue
        if char in "'\"" and previous in " \t\n[{,:":
            quote = char
        elif char == "#" and previous in " \t\n":
            comment = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return ConfigError(
                    f"nesting deeper than {MAX_DEPTH} levels", Location(name, line, col)
                )
        elif char in "]}":
            depth = max(depth - 1, 0)
        previous = char
    return None


def _compose(text: str, name: str, result: _Loaded) -> Iterator[tuple[int, Any]]:
    """Yield each document's node graph; a syntax error ends the file with one error."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    yaml = YAML(typ="rt", pure=True)
    index = 0
    try:
        for node in yaml.compose_all(text):
            if node is not None and not _empty_document(node):
                yield index, node
            index += 1
    except MarkedYAMLError as exc:
        result.errors.append(_syntax_error(exc, name, text))
    except ReaderError as exc:
        location = _offset_location(name, text, exc.position)
        result.errors.append(
            ConfigError(f"character {exc.character!r} is not allowed in YAML", location)
        )
    except RecursionError:
        message = f"nesting deeper than {MAX_DEPTH} levels"
        result.errors.append(ConfigError(message, Location(name, 1, 1)))
    except (YAMLError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        # ruamel raises a few plain exceptions on malformed input; still report a position.
        result.errors.append(ConfigError(f"invalid YAML: {exc}", Location(name, 1, 1)))


def _empty_document(node: Any) -> bool:
    """A document with nothing in it (a trailing `---`, or only comments) declares nothing:
    skipped, as an empty file is, rather than refused as "not a mapping"."""
    return (
        type(node).__name__ == "ScalarNode"
        and str(node.tag) == f"{_CORE}null"
        and node.value == ""
        and node.style is None
    )


def _syntax_error(exc: Any, name: str, text: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    location = _loc(name, mark) if mark is not None else Location(name, 1, 1)
    problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
    if (mark is not None and _char_at(text, mark.index) == "\t") or "'\\t'" in problem:
        return ConfigError("tab character: YAML must be indented with spaces", location)
    context = " ".join(str(exc.context or "").split())
    detail = f"{problem} ({context})" if context and exc.problem else problem
    return ConfigError(f"invalid YAML: {detail}", location)


def _char_at(text: str, index: int | None) -> str:
    if index is None or not 0 <= index < len(text):
        return ""
    return text[index]


def _offset_location(name: str, text: str, offset: int) -> Location:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Location(name, line, col)


def _loc(name: str, mark: Any) -> Location:
    return Location(name, int(mark.line) + 1, int(mark.column) + 1)


class _Builder:
    """Turns one document's node graph into YamlMap/YamlSeq/scalars, or refuses it."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.built: dict[int, Any] = {}  # node id -> value, so aliases share one value

    def document(self, node: Any) -> Any:
        _measure(node, self.file)
        return self.value(node)

    def value(self, node: Any) -> Any:
        if id(node) in self.built:
            return self.built[id(node)]
        kind = type(node).__name__
        if kind == "MappingNode":
            result: Any = self.mapping(node)
        elif kind == "SequenceNode":
            result = self.sequence(node)
        else:
            result = self.scalar(node)
        self.built[id(node)] = result
        return result

    def mapping(self, node: Any) -> YamlMap:
        self.check_tag(node, _MAP_TAG)
        out = YamlMap(_loc(self.file, node.start_mark))
        merges: list[Any] = []
        for key_node, value_node in node.value:
            if str(key_node.tag) == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self.key(key_node)
            if key in out:
                first = out.key_locations[key]
                raise _Refused(
                    ConfigError(
                        f"duplicate key {quote(key)} (first at line {first.line})",
                        _loc(self.file, key_node.start_mark),
                    )
                )
            out[key] = self.value(value_node)
            out.key_locations[key] = _loc(self.file, key_node.start_mark)
            out.value_locations[key] = _loc(self.file, value_node.start_mark)
        for merge in merges:
            self.merge(out, merge)
        return out

    def merge(self, out: YamlMap, node: Any) -> None:
        """`<<: *base` (or a list of them): keys not already set come from the base."""
        value = self.value(node)
        sources = value if isinstance(value, YamlSeq) else [value]
        for source in sources:
            if not isinstance(source, YamlMap):
                raise _Refused(
                    ConfigError(
                        "a merge key (<<) needs a mapping", _loc(self.file, node.start_mark)
                    )
                )
            for key, item in source.items():
                if key not in out:
                    out[key] = item
                    out.key_locations[key] = source.key_locations[key]
                    out.value_locations[key] = source.value_locations[key]

    def key(self, node: Any) -> str:
        if type(node).__name__ != "ScalarNode":
            raise _Refused(
                ConfigError("mapping keys must be plain strings", _loc(self.file, node.start_mark))
            )
        self.check_tag(node, *_SCALAR_TAGS)
        return str(node.value)

    def sequence(self, node: Any) -> YamlSeq:
        self.check_tag(node, _SEQ_TAG)
        out = YamlSeq(_loc(self.file, node.start_mark))
        for item in node.value:
            out.append(self.value(item))
            out.item_locations.append(_loc(self.file, item.start_mark))
        return out

    def scalar(self, node: Any) -> Any:
        tag = str(node.tag)
        self.check_tag(node, *_SCALAR_TAGS)
        text = str(node.value)
        try:
            return _SCALARS.get(tag, str)(text)
        except ValueError:
            short = tag.removeprefix(_CORE)
            where = _loc(self.file, node.start_mark)
            raise _Refused(ConfigError(f"{quote(text)} is not a valid {short}", where)) from None

    def check_tag(self, node: Any, *allowed: str) -> None:
        tag = str(node.tag)
        if tag not in allowed:
            shown = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
            raise _Refused(
                ConfigError(
                    f"YAML tag {quote(shown)} is not allowed (only plain data)",
                    _loc(self.file, node.start_mark),
                )
            )


def _too_big(aliased: bool) -> str:
    if aliased:
        return f"document expands to more than {MAX_NODES:,} nodes through its YAML aliases"
    # no alias: the document is simply that big (a Fleet of tens of thousands of customers)
    return (
        f"document has more than {MAX_NODES:,} YAML nodes (a Fleet has 5 per customer); "
        "split it into several documents (`---`) or files of at most 15,000 customers each"
    )


def _measure(root: Any, file: str) -> None:
    """Refuse a document whose alias-expanded size or depth is too large, or recursive."""
    sizes: dict[int, tuple[int, int]] = {}  # node id -> (expanded nodes, height)
    open_nodes: set[int] = set()
    aliased = False  # a node is used more than once: the document uses aliases

    def visit(node: Any, depth: int) -> tuple[int, int]:
        nonlocal aliased
        key = id(node)
        if key in sizes:
            aliased = True
            size, height = sizes[key]
        else:
            if key in open_nodes:
                raise _Refused(ConfigError("recursive YAML alias", _loc(file, node.start_mark)))
            if depth > MAX_DEPTH:
                raise _Refused(
                    ConfigError(
                        f"nesting deeper than {MAX_DEPTH} levels", _loc(file, node.start_mark)
                    )
                )
            open_nodes.add(key)
            size, height = 1, 1
            for child in _children(node):
                child_size, child_height = visit(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
                if size > MAX_NODES:
                    break
            open_nodes.discard(key)
            sizes[key] = (size, height)
        if depth + height - 1 > MAX_DEPTH:
            raise _Refused(
                ConfigError(f"nesting deeper than {MAX_DEPTH} levels", _loc(file, node.start_mark))
            )
        if size > MAX_NODES:
            raise _Refused(ConfigError(_too_big(aliased), _loc(file, root.start_mark)))
        return size, height

    visit(root, 1)


def _children(node: Any) -> list[Any]:
    kind = type(node).__name__
    if kind == "MappingNode":
        return [part for pair in node.value for part in pair]
    if kind == "SequenceNode":
        return list(node.value)
    return []


def _yaml_int(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if digits.lower().startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits, 10)


def _yaml_float(text: str) -> float:
    lowered = text.replace("_", "").lower()
    if lowered.lstrip("+-") == ".inf":
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(lowered)


def _yaml_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in {"true", "false"}:
        raise ValueError(text)
    return lowered == "true"


def _yaml_null(text: str) -> None:
    if text not in {"", "~", "null", "Null", "NULL"}:
        raise ValueError(text)


_SCALARS: dict[str, Any] = {
    f"{_CORE}int": _yaml_int,
    f"{_CORE}float": _yaml_float,
    f"{_CORE}bool": _yaml_bool,
    f"{_CORE}null": _yaml_null,
    # timestamps stay the text the user wrote; no config field is a date
}

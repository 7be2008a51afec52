"""Whatever bytes a user saves, loading gives a DesiredState or positioned ConfigErrors."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config import load_desired
from reconciler.errors import ConfigErrors

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*/*.yaml"))]

TOKENS = [*"abkindme:-_ \n\t[]{},&*!|>'\"#%@`?~0129.", "---\n", "kind: ", "Manifest", "\n  "]
YAMLISH = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLE_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from([":", "-", " ", "\n", "\t", "[", "{", "&a", "*a", "!!x", "0"]))
        if action == "insert":
            text = text[:at] + piece + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    return text


def _load(tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / "config.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    try:
        load_desired(path)
    except ConfigErrors as exc:
        assert exc.errors
        for error in exc.errors:
            assert error.location is not None
            assert error.location.file == str(path)
            assert "\n" not in error.message


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(text=YAMLISH)
def test_random_yamlish_text(tmp_path: Path, text: str) -> None:
    _load(tmp_path, text)


@FUZZ
@given(text=mutated_example())
def test_mutated_examples(tmp_path: Path, text: str) -> None:
    _load(tmp_path, text)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    _load(tmp_path, data)

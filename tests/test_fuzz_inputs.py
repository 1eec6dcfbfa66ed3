"""Fuzzing what users type and write: templates and search-space files.

Whatever the text, the template parser and the space loader either accept it or raise a
:class:`~promptsearch.exceptions.PromptSearchError` with a message: never another exception
(a ``KeyError``, ``IndexError``, ``RecursionError`` ...), never a hang. Hypothesis draws the
texts from the characters the template language and YAML give meaning to, and from any text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptsearch.exceptions import PromptSearchError
from promptsearch.space import load_search_space
from promptsearch.templates import Template

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Pieces with meaning in the template language, mixed with ordinary text.
_TEMPLATE_PIECES = st.sampled_from(
    ["{", "}", "{{", "}}", "{label}", "{text}", "{soft:", "{soft:3}", "{soft:0}", "{soft:99999}", ":", "\\n",
     "\n", "label", "text", " ", "é", "\ue000", "\x00", "{sentence1}", "{ text }", "{label:x}", "}{"]
)  # fmt: skip
_TEMPLATES = st.one_of(st.text(max_size=60), st.lists(_TEMPLATE_PIECES, max_size=12).map("".join))


@FUZZ
@given(source=_TEMPLATES, generation=st.booleans())
def test_templates_parse_or_fail_with_a_message(source: str, generation: bool) -> None:
    try:
        template = Template(source, generation=generation)
    except PromptSearchError as exc:
        assert str(exc)
        return
    rendered = template.render(dict.fromkeys(template.fields, "x"))  # what parses renders
    assert isinstance(rendered.context, str)


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=12)
)
_KEYS = st.sampled_from(
    ["name", "task", "model", "templates", "seeds", "template", "verbalizers", "candidates", "split", "k",
     "seed", "strategy", "budget", "trials", "demonstrations", "counts", "tuning", "modes", "backend",
     "options", "metric", "selection", "final", "top", "calibration", "evolution", "generation", "x"]
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=20,
)


def _base() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((ROOT / "search_spaces/movies.yaml").read_text())
    return loaded


@FUZZ
@given(changes=st.dictionaries(_KEYS, _VALUES, max_size=3))
def test_space_files_load_or_fail_with_a_message(changes: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({**_base(), **changes}))
    try:
        load_search_space(path)
    except PromptSearchError as exc:
        assert str(exc)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_text_as_a_space_file_loads_or_fails_with_a_message(text: str, tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        load_search_space(path)
    except PromptSearchError as exc:
        assert str(exc)


@pytest.mark.parametrize("text", ["a: &a [*a]", "- !!python/object:os.system ls", "{" * 2000, "[" * 5000])
def test_hostile_yaml_is_refused(text: str, tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(PromptSearchError):
        load_search_space(path)

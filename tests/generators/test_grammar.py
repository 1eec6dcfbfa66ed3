"""TemplateGrammar and CFG: sizes, order, seeded sampling, escaping and errors."""

from __future__ import annotations

import pytest

from promptsearch.exceptions import ConfigError, PromptSearchError
from promptsearch.generators import CFG, Candidate, TemplateGrammar
from promptsearch.templates import Template


def _grammar() -> TemplateGrammar:
    return TemplateGrammar(
        instruction=("", "Classify the review.", "Is it good?"),
        input_prefix=("Review: ", "", "Text: "),
        connector=("\n", " "),
        answer_prefix=("Sentiment:", "Answer:"),
    )


def test_size_and_enumerate_order() -> None:
    g = _grammar()
    assert g.size() == 3 * 3 * 2 * 2
    cands = g.enumerate()
    assert len(cands) == g.size() == len({c.id for c in cands})
    assert cands[0] == Candidate("", "Review: {text}\nSentiment:{label}", origin="grammar")
    assert cands[1].template == "Review: {text}\nAnswer:{label}"  # the last axis varies fastest
    assert cands[-1] == Candidate("Is it good?", "Text: {text} Answer:{label}", origin="grammar")
    assert g.enumerate(limit=5) == cands[:5]
    assert all(c.origin == "grammar" for c in cands)


def test_sample_is_seeded_distinct_and_from_the_grammar() -> None:
    g = _grammar()
    everything = {c.id for c in g.enumerate()}
    a, b = g.sample(10, seed=0), g.sample(10, seed=0)
    assert a == b and len(a) == 10 and len({c.id for c in a}) == 10
    assert {c.id for c in a} <= everything
    assert g.sample(10, seed=1) != a
    assert {c.id for c in g.sample(1000, seed=3)} == everything  # n > size gives all


def test_sample_huge_product_without_materializing() -> None:
    axis = tuple(f"w{i} " for i in range(2000))
    g = TemplateGrammar(instruction=axis, input_prefix=axis, connector=("\n",), answer_prefix=axis)
    assert g.size() == 2000**3
    out = g.sample(50, seed=0)
    assert len({c.id for c in out}) == 50
    assert out == g.sample(50, seed=0)


def test_braces_in_phrases_are_escaped() -> None:
    g = TemplateGrammar(input_prefix=("{x} ",), connector=("}\n",), answer_prefix=("{label}?",))
    (cand,) = g.enumerate()
    tpl = Template(cand.template)
    assert tpl.fields == ("text",)
    assert tpl.render({"text": "T"}).context == "{x} T}\n{label}?"


def test_several_fields_with_field_marker() -> None:
    g = TemplateGrammar(
        input_prefix=("<Field>: ",),
        connector=("\n",),
        answer_prefix=("Answer:",),
        fields=("premise", "hypothesis_text"),
    )
    (cand,) = g.enumerate()
    assert cand.template == "Premise: {premise}\nHypothesis Text: {hypothesis_text}\nAnswer:{label}"


def test_duplicate_phrases_are_dropped() -> None:
    g = TemplateGrammar(instruction=("A", "A", "B"))
    assert g.instruction == ("A", "B") and g.size() == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"instruction": ()}, {"connector": "\n"}, {"fields": ("label",)}, {"fields": ("a b",)}, {"fields": ()}],
)
def test_invalid_grammar_is_a_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        TemplateGrammar(**kwargs)  # type: ignore[arg-type]


def test_negative_sample_size() -> None:
    with pytest.raises(ConfigError, match="n must be >= 0"):
        _grammar().sample(-1, seed=0)


def _cfg() -> CFG:
    return CFG(
        {
            "template": ["<pre>{text}<sep><ans>{label}", "{text} It was{label}"],
            "pre": ["", "Review: ", "<adj> review: "],
            "adj": ["Movie", "Film"],
            "sep": ["\n", " "],
            "ans": ["Sentiment:", "Answer:"],
        }
    )


def test_cfg_counts_enumerates_and_samples() -> None:
    cfg = _cfg()
    assert cfg.size() == 4 * 2 * 2 + 1
    strings = cfg.enumerate()
    assert len(strings) == 17 == len(set(strings))
    assert strings[0] == "{text}\nSentiment:{label}"
    assert "Film review: {text} Answer:{label}" in strings
    assert strings[-1] == "{text} It was{label}"
    for s in strings:
        Template(s)
    sample = cfg.sample(5, seed=0)
    assert sample == cfg.sample(5, seed=0) and len(set(sample)) == 5 and set(sample) <= set(strings)
    assert set(cfg.sample(100, seed=0)) == set(strings)


def test_cfg_equal_strings_are_returned_once() -> None:
    cfg = CFG({"template": ["<a><b>"], "a": ["x", ""], "b": ["", "x"]})
    assert cfg.size() == 4
    assert cfg.enumerate() == ["x", "xx", ""]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"template": ["<pre>{text}{label}"], "prefix": ["A"]}, "Did you mean 'prefix'"),
        ({"template": ["<template>"]}, "recursive"),
        ({"template": ["<a>"], "a": ["<b>"], "b": ["<a>"]}, "recursive"),
        ({"template": []}, "alternatives"),
        ({"start": ["x"]}, "start symbol"),
    ],
)
def test_cfg_errors(rules: dict[str, list[str]], message: str) -> None:
    with pytest.raises(PromptSearchError, match=message):
        CFG(rules)

"""Phrase and word operators: conformance, determinism, edits and edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from promptsearch.exceptions import ConfigError, UnknownNameError
from promptsearch.generators import (
    AddOperator,
    BaseOperator,
    Candidate,
    CrossoverOperator,
    DeleteOperator,
    SubstituteOperator,
    SwapOperator,
    make_operator,
    operators,
)
from promptsearch.generators._text import split_phrases
from tests.generators.conformance import PARENTS, check_proposals, proposals

SIMPLE = ["delete", "swap", "add", "substitute"]
SENTIMENT = PARENTS[0]
RICH = Candidate(
    "Read the review. Classify it. Answer now.", "The movie review: {text}\nThe sentiment was{label}"
)


def _all_operators() -> list[BaseOperator]:
    return [make_operator(name) for name in [*SIMPLE, "crossover"]]


@pytest.mark.parametrize("op", _all_operators(), ids=repr)
@pytest.mark.parametrize("parent", PARENTS, ids=lambda p: p.template[:12])
@pytest.mark.parametrize("n", [1, 5, 200])
def test_conformance(op: BaseOperator, parent: Candidate, n: int) -> None:
    other = PARENTS[1] if parent is not PARENTS[1] else PARENTS[0]
    out = proposals(op, parent, seed=0, n=n, other=other)
    check_proposals(op, (parent, other) if op.arity == 2 else (parent,), out, n)


@pytest.mark.parametrize("op", _all_operators(), ids=repr)
def test_seeded_and_productive(op: BaseOperator) -> None:
    a = proposals(op, RICH, seed=0, n=4, other=SENTIMENT)
    assert len(a) == 4
    assert a == proposals(op, RICH, seed=0, n=4, other=SENTIMENT)
    assert [c.detail for c in a] == [c.detail for c in proposals(op, RICH, 0, 4, SENTIMENT)]
    others = [proposals(op, RICH, seed=s, n=4, other=SENTIMENT) for s in range(1, 6)]
    assert any(o != a for o in others)


@pytest.mark.parametrize("name", SIMPLE)
def test_zero_proposals(name: str) -> None:
    assert make_operator(name).propose(SENTIMENT, np.random.default_rng(0), 0) == []


def test_delete_removes_exactly_one_unit() -> None:
    parent = Candidate("Read it. Classify it. Answer now.", "Review: {text}\nSentiment:{label}")
    out = DeleteOperator().propose(parent, np.random.default_rng(0), 100)
    got = {(c.instruction, c.template) for c in out}
    assert got == {
        ("Classify it. Answer now.", parent.template),
        ("Read it. Answer now.", parent.template),
        ("Read it. Classify it.", parent.template),
        (parent.instruction, "{text}\nSentiment:{label}"),
        (parent.instruction, "Review: {text}\n{label}"),
    }
    assert {c.detail for c in out} >= {"delete 'Classify it.'", "delete 'Review:'"}


def test_repeated_words_give_no_duplicates_or_parent_copies() -> None:
    parent = Candidate("Rate it very very well.", "{text} very very{label}")
    for op in (DeleteOperator(), SwapOperator()):
        out = op.propose(parent, np.random.default_rng(0), 100)
        check_proposals(op, (parent,), out, 100)
    deleted = DeleteOperator().propose(parent, np.random.default_rng(0), 100)
    # instruction: 5 words, "very" twice -> 4 distinct; template: 2 words, both "very" -> 1
    assert len(deleted) == 5
    swapped = SwapOperator(scope="template").propose(parent, np.random.default_rng(0), 100)
    assert swapped == []


def test_delete_on_one_word_instruction_and_empty_instruction() -> None:
    out = DeleteOperator(scope="instruction").propose(
        Candidate("Classify.", "{text}{label}"), np.random.default_rng(0), 9
    )
    assert [c.instruction for c in out] == [""]
    empty = Candidate("", "{text}{label}")
    assert DeleteOperator().propose(empty, np.random.default_rng(0), 9) == []
    assert SwapOperator().propose(empty, np.random.default_rng(0), 9) == []


def test_swap_exchanges_phrases_and_words() -> None:
    parent = Candidate("Read it. Classify it.", "Movie review: {text}{label}")
    out = SwapOperator().propose(parent, np.random.default_rng(0), 10)
    got = {(c.instruction, c.template) for c in out}
    assert got == {
        ("Classify it. Read it.", parent.template),
        (parent.instruction, "review: Movie {text}{label}"),
    }
    assert "swap 'Read it.' <-> 'Classify it.'" in {c.detail for c in out}


def test_scope_restricts_edits() -> None:
    inst = DeleteOperator(scope="instruction").propose(SENTIMENT, np.random.default_rng(0), 50)
    tmpl = DeleteOperator(scope="template").propose(SENTIMENT, np.random.default_rng(0), 50)
    assert inst and all(c.template == SENTIMENT.template for c in inst)
    assert tmpl and all(c.instruction == SENTIMENT.instruction for c in tmpl)
    with pytest.raises(ConfigError, match="scope"):
        SwapOperator(scope="everything")


def test_add_inserts_whole_sentences_and_fills_empty_instruction() -> None:
    out = AddOperator(["Be brief."]).propose(Candidate("", "{text}{label}"), np.random.default_rng(0), 5)
    assert [c.instruction for c in out] == ["Be brief."]
    parent = Candidate("Classify the review", "{text}{label}")
    out = AddOperator(["Be brief."]).propose(parent, np.random.default_rng(0), 5)
    assert sorted(c.instruction for c in out) == [
        "Be brief. Classify the review.",
        "Classify the review. Be brief.",
    ]
    # Phrases already present are not added again, so nothing new may come out.
    assert (
        AddOperator(["Be brief."]).propose(
            Candidate("Be brief.", "{text}{label}"), np.random.default_rng(0), 5
        )
        == []
    )


def test_substitute_uses_table_and_keeps_case() -> None:
    parent = Candidate("Rate the FILM and the film.", "Film: {text}\nFeeling:{label}")
    out = SubstituteOperator({"film": ["movie"]}).propose(parent, np.random.default_rng(0), 10)
    assert {(c.instruction, c.template) for c in out} == {
        ("Rate the MOVIE and the film.", parent.template),
        ("Rate the FILM and the movie.", parent.template),
        (parent.instruction, "Movie: {text}\nFeeling:{label}"),
    }
    assert {c.detail for c in out} >= {"substitute 'film' -> 'movie'", "substitute 'Film' -> 'Movie'"}
    default = SubstituteOperator().propose(parent, np.random.default_rng(0), 50)
    assert any("Sentiment:" in c.template or "Opinion:" in c.template for c in default)


def test_crossover_combines_parents() -> None:
    a = Candidate("Read it. Classify it.", "Review: {text}\nSentiment:{label}")
    b = Candidate("Think. Answer.", "{text} It was{label}")
    out = CrossoverOperator().propose_pair(a, b, np.random.default_rng(0), 100)
    pairs = {(c.instruction, c.template) for c in out}
    assert ("Read it. Classify it.", b.template) in pairs
    assert ("Think. Answer.", a.template) in pairs
    assert ("Read it. Answer.", a.template) in pairs
    assert all(c.parents == (a.id, b.id) for c in out)
    assert CrossoverOperator().propose(a, np.random.default_rng(0), 5) == []


def test_crossover_never_mixes_fields() -> None:
    a = Candidate("Read it.", "Review: {text}\nSentiment:{label}")
    b = Candidate("Compare.", "{premise} {hypothesis}{label}")
    out = CrossoverOperator().propose_pair(a, b, np.random.default_rng(0), 100)
    assert out and all(c.template == a.template for c in out)


def test_split_phrases_keeps_lists_whole() -> None:
    assert split_phrases("Read the movie review carefully, and decide if it is positive or negative.") == [
        "Read the movie review carefully,",
        "and decide if it is positive or negative.",
    ]
    assert split_phrases("Classify the long review and answer with one word") == [
        "Classify the long review",
        "and answer with one word",
    ]
    assert split_phrases("Good or bad?") == ["Good", "or", "bad?"]
    assert split_phrases("   ") == []


def test_registry_and_make_operator() -> None:
    assert operators.names() == ["add", "crossover", "delete", "rewrite", "substitute", "swap"]
    assert isinstance(make_operator("substitute", synonyms={}), SubstituteOperator)
    with pytest.raises(UnknownNameError, match="Did you mean 'swap'"):
        make_operator("swp")


def test_custom_operator_plugs_in() -> None:
    class Shout(BaseOperator):
        name = "shout"

        def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
            from promptsearch.generators import Edit

            edits = [Edit(parent.instruction.upper(), parent.template, "upper"), Edit("x", "{text}", "bad")]
            return self._emit([parent], edits, n)

    out = Shout().propose(Candidate("Hi.", "{text}{label}"), np.random.default_rng(0), 5)
    assert [c.instruction for c in out] == ["HI."]  # the template without {label} was dropped

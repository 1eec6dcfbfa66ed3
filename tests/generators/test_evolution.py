"""evolve(): counts, exclusion, determinism, parent ranking and termination."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from promptsearch.exceptions import ConfigError
from promptsearch.generators import (
    AddOperator,
    BaseOperator,
    Candidate,
    CrossoverOperator,
    DeleteOperator,
    SubstituteOperator,
    SwapOperator,
    evolve,
)

PARENTS = [
    Candidate(
        "Read the movie review carefully. Decide if it is positive or negative.",
        "Review: {text}\nSentiment:{label}",
    ),
    Candidate("Classify the text. Be brief.", "Text: {text}\nAnswer:{label}"),
    Candidate("What is the sentiment of this comment?", "{text} It was{label}"),
]


def _ops() -> list[BaseOperator]:
    return [DeleteOperator(), SwapOperator(), AddOperator(), SubstituteOperator(), CrossoverOperator()]


class Nothing(BaseOperator):
    name = "nothing"
    calls = 0

    def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        Nothing.calls += 1
        return []


def test_count_distinctness_and_generation() -> None:
    out = evolve(PARENTS, _ops(), n=25, seed=0, generation=7)
    assert len(out) == 25
    ids = [c.id for c in out]
    assert len(set(ids)) == 25 and not set(ids) & {p.id for p in PARENTS}
    assert {c.generation for c in out} == {7}
    assert all(set(c.parents) <= {p.id for p in PARENTS} for c in out)
    assert {c.origin for c in out} >= {"delete", "swap", "add", "substitute", "crossover"}


def test_deterministic_for_a_seed() -> None:
    a = evolve(PARENTS, _ops(), n=12, seed=0, generation=1)
    assert a == evolve(PARENTS, _ops(), n=12, seed=0, generation=1)
    assert [c.detail for c in a] == [c.detail for c in evolve(PARENTS, _ops(), n=12, seed=0, generation=1)]
    assert a != evolve(PARENTS, _ops(), n=12, seed=1, generation=1)


def test_exclude_is_respected() -> None:
    first = evolve(PARENTS, _ops(), n=10, seed=0, generation=1)
    second = evolve(PARENTS, _ops(), n=10, seed=0, generation=1, exclude={c.id for c in first})
    assert len(second) == 10
    assert not {c.id for c in first} & {c.id for c in second}


def test_better_ranked_parents_are_used_more() -> None:
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda"
    parents = [Candidate(f"Rank{i} {words}", "Text: {text}\nAnswer:{label}") for i in range(6)]
    out = evolve(parents, [DeleteOperator(scope="instruction")], n=40, seed=0, generation=1, per_call=1)
    counts = collections.Counter(c.parents[0] for c in out)
    # Weights 1/(rank+1): the best two are picked 3.7 times as often as the last two.
    top, bottom = (sum(counts[p.id] for p in ps) for ps in (parents[:2], parents[4:]))
    assert top > 1.5 * bottom


def test_operator_weights() -> None:
    out = evolve(
        PARENTS,
        _ops(),
        n=15,
        seed=0,
        generation=1,
        weights={"delete": 1.0, "swap": 0, "add": 0, "substitute": 0, "crossover": 0},
    )
    assert out and {c.origin for c in out} == {"delete"}
    with pytest.raises(ConfigError, match="Did you mean 'delete'"):
        evolve(PARENTS, _ops(), n=3, seed=0, generation=1, weights={"delet": 1.0})
    with pytest.raises(ConfigError, match=">= 0"):
        evolve(PARENTS, _ops(), n=3, seed=0, generation=1, weights={"delete": -1.0})


def test_terminates_when_nothing_can_be_produced() -> None:
    Nothing.calls = 0
    assert evolve(PARENTS, [Nothing()], n=5, seed=0, generation=1) == []
    assert Nothing.calls == 10 * 5 + 10
    assert (
        evolve(PARENTS, [Nothing()], n=5, seed=0, generation=1, max_attempts=3) == [] and Nothing.calls == 63
    )


def test_exhausted_space_returns_fewer() -> None:
    parent = Candidate("Go.", "{text}{label}")
    out = evolve([parent], [DeleteOperator()], n=10, seed=0, generation=1)
    assert [c.instruction for c in out] == [""]


def test_crossover_needs_two_parents() -> None:
    assert evolve(PARENTS[:1], [CrossoverOperator()], n=5, seed=0, generation=1) == []
    assert evolve([PARENTS[0], PARENTS[0]], [CrossoverOperator()], n=5, seed=0, generation=1) == []
    out = evolve(PARENTS[:2], [CrossoverOperator()], n=5, seed=0, generation=1)
    assert out and all(len(c.parents) == 2 and c.parents[0] != c.parents[1] for c in out)


def test_edge_arguments() -> None:
    assert evolve([], _ops(), n=5, seed=0, generation=1) == []
    assert evolve(PARENTS, [], n=5, seed=0, generation=1) == []
    assert evolve(PARENTS, _ops(), n=0, seed=0, generation=1) == []
    with pytest.raises(ConfigError):
        evolve(PARENTS, _ops(), n=-1, seed=0, generation=1)

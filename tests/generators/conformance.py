"""Conformance checks that every operator's proposals must pass (reused by all operator tests)."""

from __future__ import annotations

import numpy as np

from promptsearch.generators import BaseOperator, Candidate
from promptsearch.templates import LabelPart, Template

PARENTS: tuple[Candidate, ...] = (
    Candidate(
        "Read the movie review carefully, and decide if the sentiment is positive or negative.",
        "Review: {text}\nSentiment:{label}",
    ),
    Candidate("Classify the text. Be brief.", "Text: {text}\nTopic:{label}", generation=2),
    Candidate("", "{text} It was{label}"),
    Candidate(
        "Compare the two sentences.", "Premise: {premise}\nHypothesis: {hypothesis}\nAnswer:{label} {{x}}"
    ),
    Candidate("Tune.", "{soft:4} Review: {text} Sentiment:{label}."),
)


def proposals(
    op: BaseOperator, parent: Candidate, seed: int, n: int, other: Candidate | None = None
) -> list[Candidate]:
    rng = np.random.default_rng(seed)
    if op.arity == 2:
        assert other is not None
        return op.propose_pair(parent, other, rng, n)
    return op.propose(parent, rng, n)


def check_proposals(op: BaseOperator, parents: tuple[Candidate, ...], out: list[Candidate], n: int) -> None:
    """Assert the invariants of an operator's output for ``parents``."""
    first = parents[0]
    parent_template = Template(first.template)
    assert len(out) <= n
    ids = [c.id for c in out]
    assert len(set(ids)) == len(ids), "duplicate proposals"
    assert not set(ids) & {p.id for p in parents}, "a proposal copies a parent"
    for cand in out:
        tpl = Template(cand.template)
        assert sum(isinstance(p, LabelPart) for p in tpl.parts) == 1
        assert set(tpl.fields) == set(parent_template.fields)
        assert tpl.n_soft == parent_template.n_soft
        assert cand.origin == op.name
        assert cand.parents == tuple(p.id for p in parents)
        assert cand.generation == max(p.generation for p in parents) + 1
        assert cand.detail

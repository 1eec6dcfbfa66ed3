"""Crossover: combine two parent candidates (GrIPS-style recombination)."""

from __future__ import annotations

import numpy as np

from promptsearch.generators._candidate import Candidate
from promptsearch.generators._operators import BaseOperator, register_operator, shuffled
from promptsearch.generators._text import Edit, join_phrases, split_phrases

__all__ = ["CrossoverOperator"]


class CrossoverOperator(BaseOperator):
    """Combines two parents: one's instruction with the other's template, and one-point
    crossovers of their instruction phrases. :meth:`propose` on one parent returns ``[]``.

    Example:
        >>> import numpy as np
        >>> a = Candidate("Read it.", "Review: {text}\\nSentiment:{label}")
        >>> b = Candidate("Classify it.", "{text} It was{label}")
        >>> len(CrossoverOperator().propose_pair(a, b, np.random.default_rng(0), 10)) > 0
        True
    """

    name = "crossover"
    arity = 2

    def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        return []

    def propose_pair(self, a: Candidate, b: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        edits = [
            Edit(a.instruction, b.template, "instruction of A + template of B"),
            Edit(b.instruction, a.template, "instruction of B + template of A"),
        ]
        pa, pb = split_phrases(a.instruction), split_phrases(b.instruction)
        for i in range(1, len(pa) + 1):
            for j in range(len(pb)):
                edits.append(
                    Edit(
                        join_phrases(pa[:i] + pb[j:], a.instruction),
                        a.template,
                        f"A[:{i}] + B[{j}:] of instruction phrases",
                    )
                )
        return self._emit([a, b], shuffled(edits, rng), n)


register_operator(CrossoverOperator)

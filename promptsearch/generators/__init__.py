"""Candidate generation: grammars of templates, GrIPS-style edit operators and evolution.

A search starts from seed candidates (hand-written, or enumerated from a
:class:`TemplateGrammar` or :class:`CFG`) and grows the pool with operators that edit the
instruction and the template's text without breaking its slots.

Example:
    >>> from promptsearch.generators import Candidate, TemplateGrammar, evolve, make_operator
    >>> grammar = TemplateGrammar(instruction=("Classify the review.", "What is the sentiment?"),
    ...                           input_prefix=("Review: ", ""), answer_prefix=("Sentiment:",))
    >>> seeds = grammar.sample(2, seed=0)
    >>> ops = [make_operator("delete"), make_operator("swap"), make_operator("substitute")]
    >>> children = evolve(seeds, ops, n=4, seed=0, generation=1)
    >>> all(c.generation == 1 for c in children)
    True

``import promptsearch.generators`` does not import torch: the model-backed operators
(``substitute`` with a backend, ``rewrite``) reach the model only through the backend protocol.
Label words (verbalizers) are generated too: :func:`search_label_words` (LM-BFF).
"""

# Operators register themselves in this order, the default order of a space's operators.
# isort: off
from promptsearch.generators._operators import (
    DEFAULT_PHRASES,
    AddOperator,
    BaseOperator,
    DeleteOperator,
    SwapOperator,
    make_operator,
    operators,
    register_operator,
)
from promptsearch.generators._substitute import DEFAULT_SYNONYMS, SubstituteOperator
from promptsearch.generators._crossover import CrossoverOperator
from promptsearch.generators._rewrite import RewriteOperator

# isort: on
from promptsearch.generators._candidate import Candidate
from promptsearch.generators._evolution import evolve
from promptsearch.generators._grammar import CFG, TemplateGrammar
from promptsearch.generators._label_words import search_label_words
from promptsearch.generators._text import Edit

__all__ = [
    "CFG",
    "DEFAULT_PHRASES",
    "DEFAULT_SYNONYMS",
    "AddOperator",
    "BaseOperator",
    "Candidate",
    "CrossoverOperator",
    "DeleteOperator",
    "Edit",
    "RewriteOperator",
    "SubstituteOperator",
    "SwapOperator",
    "TemplateGrammar",
    "evolve",
    "make_operator",
    "operators",
    "register_operator",
    "search_label_words",
]

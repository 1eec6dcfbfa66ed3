"""The search, in one namespace: :class:`PromptSearch`, search spaces, score caches and the protocol.

The concepts live in their own packages (:mod:`promptsearch.space`, :mod:`promptsearch.study`,
:mod:`promptsearch.engine`, :mod:`promptsearch.protocol`); this module gathers what a user of
the search needs.
"""

from promptsearch.engine import PromptSearch
from promptsearch.generators import search_label_words
from promptsearch.protocol import MethodResult, ProtocolResult, run_protocol
from promptsearch.space import SearchSpace, load_search_space
from promptsearch.study import MemoryScoreCache, SQLiteScoreCache

__all__ = [
    "MemoryScoreCache",
    "MethodResult",
    "PromptSearch",
    "ProtocolResult",
    "SQLiteScoreCache",
    "SearchSpace",
    "load_search_space",
    "run_protocol",
    "search_label_words",
]

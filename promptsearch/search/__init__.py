"""The search engine: search spaces, the Optuna study loop, score caches and the few-shot protocol."""

from promptsearch.search._cache import MemoryScoreCache, SQLiteScoreCache
from promptsearch.search._label_words import search_label_words
from promptsearch.search._protocol import MethodResult, ProtocolResult, run_protocol
from promptsearch.search._search import PromptSearch
from promptsearch.search._space import SearchSpace, load_search_space

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

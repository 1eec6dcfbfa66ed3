"""In-context demonstrations from train only: selection (random, or similar by TF-IDF or a
sentence encoder) and ordering."""

from promptsearch.demonstrations._embedders import (
    CatalogEncoder,
    SentenceEncoder,
    encoders,
    fetch_encoder,
    load_embedder,
)
from promptsearch.demonstrations._selectors import (
    DEFAULT_ORDER,
    DEFAULT_SELECTION,
    DemoSelection,
    DemoSelector,
    FixedSelector,
    LeaveOneOutSelector,
    SimilarSelector,
    order_demonstrations,
    orders,
    select_random,
    selections,
    selector_from_dict,
    selectors,
)

__all__ = [
    "DEFAULT_ORDER",
    "DEFAULT_SELECTION",
    "CatalogEncoder",
    "DemoSelection",
    "DemoSelector",
    "FixedSelector",
    "LeaveOneOutSelector",
    "SentenceEncoder",
    "SimilarSelector",
    "encoders",
    "fetch_encoder",
    "load_embedder",
    "order_demonstrations",
    "orders",
    "select_random",
    "selections",
    "selector_from_dict",
    "selectors",
]

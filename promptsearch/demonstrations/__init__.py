"""In-context demonstrations: selection (random, similar) and ordering, from train only."""

from promptsearch.demonstrations._selectors import (
    ORDERS,
    DemoSelector,
    FixedSelector,
    SimilarSelector,
    order_demonstrations,
    select_random,
    selector_from_dict,
    selectors,
)

__all__ = [
    "ORDERS",
    "DemoSelector",
    "FixedSelector",
    "SimilarSelector",
    "order_demonstrations",
    "select_random",
    "selector_from_dict",
    "selectors",
]

"""The few-shot protocol (LM-BFF): one search per seed split, with baselines on the same splits."""

from promptsearch.protocol._protocol import run_protocol
from promptsearch.protocol._result import (
    BASELINES,
    BEST_MANUAL,
    DEFAULT_TEMPLATE,
    DEFAULT_TOLERANCE,
    IN_CONTEXT,
    PROMPTSEARCH,
    MethodResult,
    ProtocolResult,
)

__all__ = [
    "BASELINES",
    "BEST_MANUAL",
    "DEFAULT_TEMPLATE",
    "DEFAULT_TOLERANCE",
    "IN_CONTEXT",
    "PROMPTSEARCH",
    "MethodResult",
    "ProtocolResult",
    "run_protocol",
]

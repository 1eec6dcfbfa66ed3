"""Exact match and token F1 over generated texts, from torchmetrics' SQuAD metric.

Both are the SQuAD v1.1 evaluation (lower case, no punctuation, no English articles, single
spaces; the best reference counts), computed by ``torchmetrics.functional.text.squad``, a
maintained port of the official script that runs offline. torchmetrics (and so torch) is
imported on first use, so importing :mod:`promptsearch.metrics` stays light.

One difference from the v1.1 script, inherited from torchmetrics (and SQuAD v2): an output and
a reference that both normalize to nothing (say ``"The."`` and ``"a"``) get F1 1, not 0.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Sequence

import numpy as np

from promptsearch.metrics._base import BaseMetric, Predictions, register_metric

__all__ = ["EXACT_MATCH", "ExactMatch", "TokenF1", "normalize_answer", "squad_scores"]

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = str.maketrans("", "", string.punctuation)
_CACHE = 1 << 16  # Scored (output, references) pairs kept: exact match and F1 share them.


def normalize_answer(text: str) -> str:
    """Lower case, remove punctuation and articles, collapse whitespace (SQuAD v1.1).

    The normalisation both metrics apply, for showing outputs as they are compared.

    >>> normalize_answer("The  Eiffel Tower!")
    'eiffel tower'
    """
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


@functools.lru_cache(maxsize=_CACHE)
def _squad(prediction: str, references: tuple[str, ...]) -> tuple[float, float]:
    from torchmetrics.functional.text import squad

    if not references:
        return (0.0, 0.0)
    scores = squad(
        [{"prediction_text": prediction, "id": "0"}],
        [{"answers": {"text": list(references), "answer_start": [0] * len(references)}, "id": "0"}],
    )
    return float(scores["exact_match"]) / 100.0, float(scores["f1"]) / 100.0


def squad_scores(prediction: str, references: Sequence[str]) -> tuple[float, float]:
    """SQuAD exact match and token F1 (0-1) of ``prediction`` against its best reference.

    >>> squad_scores("big red car", ["red car", "a boat"])
    (0.0, 0.8)
    """
    return _squad(str(prediction), tuple(str(r) for r in references))


#: The name other modules refer to (the default metric of generation tasks).
EXACT_MATCH = "exact_match"


@register_metric
class ExactMatch(BaseMetric):
    """1 when the normalised output equals a normalised reference, else 0 (SQuAD)."""

    name = EXACT_MATCH
    kinds = frozenset({"text"})

    def per_example(self, predictions: Predictions) -> np.ndarray:
        pairs = zip(predictions.predicted, predictions.targets)
        return np.array([squad_scores(out, refs)[0] for out, refs in pairs], dtype=np.float64)


@register_metric
class TokenF1(BaseMetric):
    """F1 of the normalised words of the output against the best reference (SQuAD)."""

    name = "token_f1"
    kinds = frozenset({"text"})

    def per_example(self, predictions: Predictions) -> np.ndarray:
        pairs = zip(predictions.predicted, predictions.targets)
        return np.array([squad_scores(out, refs)[1] for out, refs in pairs], dtype=np.float64)

"""Metrics over generated texts, each example judged against its best-matching reference.

Texts are compared after SQuAD-style normalisation (lower case, no punctuation, no English
articles, single spaces), as the SQuAD v1.1 evaluation script and lm-evaluation-harness do.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

from promptsearch.metrics._base import BaseMetric, Predictions, register_metric

__all__ = ["ExactMatch", "TokenF1", "normalize_answer"]

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, remove punctuation and articles, collapse whitespace (SQuAD v1.1).

    >>> normalize_answer("The  Eiffel Tower!")
    'eiffel tower'
    """
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def _token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


@register_metric
class ExactMatch(BaseMetric):
    """1 when the normalised output equals a normalised reference, else 0."""

    name = "exact_match"
    kinds = frozenset({"text"})

    def per_example(self, predictions: Predictions) -> np.ndarray:
        return np.array(
            [
                float(any(normalize_answer(str(out)) == normalize_answer(r) for r in refs))
                for out, refs in zip(predictions.predicted, predictions.targets)
            ],
            dtype=np.float64,
        )


@register_metric
class TokenF1(BaseMetric):
    """F1 of the normalised words of the output against the best reference (SQuAD)."""

    name = "token_f1"
    kinds = frozenset({"text"})

    def per_example(self, predictions: Predictions) -> np.ndarray:
        return np.array(
            [
                max((_token_f1(str(out), r) for r in refs), default=0.0)
                for out, refs in zip(predictions.predicted, predictions.targets)
            ],
            dtype=np.float64,
        )

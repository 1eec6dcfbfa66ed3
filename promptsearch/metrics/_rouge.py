"""ROUGE-L from Google's ``rouge-score`` package (the reference Python ROUGE).

Per example: the best ROUGE-L F-measure of the output over the example's references
(``RougeScorer.score_multi``), with Porter stemming as in the GEM and XSum evaluations. The
metric is the mean of those values, so it is paired. ``rouge-score`` is imported on first use.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from promptsearch.metrics._base import BaseMetric, Predictions, register_metric

__all__ = ["RougeL"]


@functools.cache
def _scorer() -> Any:
    import logging

    from rouge_score import rouge_scorer

    logging.getLogger("absl").setLevel(logging.WARNING)  # "Using default tokenizer." on every scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


@register_metric
class RougeL(BaseMetric):
    """ROUGE-L F-measure (longest common subsequence of stemmed words), best reference, 0-1.

    Example:
        >>> from promptsearch.metrics import Predictions, get_metric
        >>> p = Predictions("text", ("the cats sat",), (("a dog ran", "the cat sat on the mat"),))
        >>> round(float(get_metric("rouge_l").per_example(p)[0]), 3)
        0.667
    """

    name = "rouge_l"
    kinds = frozenset({"text"})

    def per_example(self, predictions: Predictions) -> np.ndarray:
        scorer = _scorer()
        values = [
            float(scorer.score_multi([str(r) for r in refs], str(out))["rougeL"].fmeasure) if refs else 0.0
            for out, refs in zip(predictions.predicted, predictions.targets)
        ]
        return np.array(values, dtype=np.float64)

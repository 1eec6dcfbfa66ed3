"""Percentile bootstrap intervals of any metric over examples."""

from __future__ import annotations

import numpy as np

from promptsearch.metrics._base import BaseMetric, Predictions

__all__ = ["bootstrap_interval"]


def bootstrap_interval(
    metric: BaseMetric,
    predictions: Predictions,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over the examples of ``predictions``.

    Paired metrics resample their per-example values (vectorized); the others recompute the
    aggregate on every resample.

    Example:
        >>> from promptsearch.metrics import get_metric
        >>> p = Predictions("label", (1,) * 80 + (0,) * 20, (1,) * 100, n_labels=2)
        >>> low, high = bootstrap_interval(get_metric("accuracy"), p)
        >>> low < 0.8 < high
        True
    """
    n = len(predictions)
    if n == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    if metric.paired:
        values = metric.per_example(predictions)[idx].mean(axis=1)
    else:
        values = np.array([metric.aggregate(predictions.subset(row)) for row in idx])
    alpha = (1.0 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))

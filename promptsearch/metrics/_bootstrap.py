"""Percentile bootstrap intervals of any metric over examples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from promptsearch.exceptions import ConfigError
from promptsearch.metrics._base import BaseMetric, Predictions

__all__ = ["PairedGain", "bootstrap_interval", "draw_counts", "paired_bootstrap", "resampled_values"]


def bootstrap_interval(
    metric: BaseMetric,
    predictions: Predictions,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over the examples of ``predictions``.

    Paired metrics resample their per-example values, metrics with sufficient statistics sum
    them per resample (both vectorized); the others recompute the aggregate on every resample.

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
    values = resampled_values(metric, predictions, idx)
    alpha = (1.0 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def draw_counts(idx: np.ndarray) -> np.ndarray:
    """How often each example was drawn in each resample (``n_resamples x n``) of ``idx``."""
    n_resamples, n = idx.shape
    offsets = (np.arange(n_resamples, dtype=np.int64) * n)[:, None]
    return np.bincount((idx + offsets).ravel(), minlength=n_resamples * n).reshape(n_resamples, n)


def resampled_values(
    metric: BaseMetric,
    predictions: Predictions,
    idx: np.ndarray,
    counts: np.ndarray | None = None,
    stats: np.ndarray | None = None,
) -> np.ndarray:
    """The metric on every resample (row of example indices ``idx``) of ``predictions``.

    Paired metrics: means of resampled per-example values. Metrics with
    :meth:`~BaseMetric.sufficient_statistics`: the statistics summed per resample (one matrix
    product with the resample ``counts``; ``counts`` and ``stats`` are computed when not given).
    Others: the aggregate of every resample, one by one.
    """
    if metric.paired:
        out: np.ndarray = metric.per_example(predictions)[idx].mean(axis=1)
        return out
    stats = metric.sufficient_statistics(predictions) if stats is None else stats
    if stats is not None:
        counts = draw_counts(idx) if counts is None else counts
        totals = np.rint(counts.astype(np.float64) @ stats.astype(np.float64)).astype(np.int64)
        return metric.aggregate_statistics(predictions, totals)
    return np.array([metric.aggregate(predictions.subset(row)) for row in idx])


@dataclass(frozen=True)
class PairedGain:
    """How much better one prompt is than another on the same examples (paired bootstrap).

    Attributes:
        gain: ``metric(a) - metric(b)`` on all the examples.
        low, high: Percentile bootstrap interval of the gain at the given confidence.
        p_value: One-sided bootstrap p-value of "``a`` is not better than ``b``": the share of
            resamples where ``a`` does not beat ``b`` (in the metric's direction).
        n: Number of paired examples.
    """

    gain: float
    low: float
    high: float
    p_value: float
    n: int

    def lower_bound(self, direction: str) -> float:
        """The pessimistic end of the interval for ``a`` (its gain's worst plausible value)."""
        return self.low if direction == "maximize" else -self.high


def paired_bootstrap(
    metric: BaseMetric,
    a: Predictions,
    b: Predictions,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedGain:
    """Paired bootstrap of the gain of ``a`` over ``b`` (predictions on the same examples).

    Every resample draws the same examples for both, so what they share (easy and hard
    examples) cancels out. Paired metrics resample per-example differences (vectorized);
    metrics with sufficient statistics sum them per resample; the others recompute both
    aggregates on every resample.

    Example:
        >>> from promptsearch.metrics import get_metric
        >>> gold = (1,) * 100
        >>> a = Predictions("label", (1,) * 90 + (0,) * 10, gold, n_labels=2)
        >>> b = Predictions("label", (1,) * 70 + (0,) * 30, gold, n_labels=2)
        >>> g = paired_bootstrap(get_metric("accuracy"), a, b)
        >>> round(g.gain, 2), g.low > 0, g.p_value < 0.01
        (0.2, True, True)
    """
    n = len(a)
    if n != len(b) or a.targets != b.targets:
        raise ConfigError("paired_bootstrap needs predictions of the same examples, in the same order.")
    gain = metric.aggregate(a) - metric.aggregate(b) if n else 0.0
    if n == 0:
        return PairedGain(0.0, 0.0, 0.0, 1.0, 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    if metric.paired:
        diff = metric.per_example(a) - metric.per_example(b)
        values = diff[idx].mean(axis=1)
    else:
        counts = draw_counts(idx)
        values = resampled_values(metric, a, idx, counts) - resampled_values(metric, b, idx, counts)
    sign = metric.sign
    alpha = (1.0 - confidence) / 2
    return PairedGain(
        gain=float(gain),
        low=float(np.quantile(values, alpha)),
        high=float(np.quantile(values, 1 - alpha)),
        p_value=float(np.mean(sign * values <= 0)),
        n=n,
    )

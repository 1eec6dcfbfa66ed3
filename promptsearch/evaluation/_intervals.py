"""Every metric of one set of predictions with its bootstrap interval, from one set of resamples.

:func:`score_metrics` gives what :func:`promptsearch.metrics.bootstrap_interval` gives metric by
metric (same seed, same resamples, the same numbers up to rounding), but fast enough to run on
every metric of a test set:

* paired metrics (accuracy, exact match, token F1, ROUGE-L, ...) compute their per-example values
  once; the value is their mean and the resamples are means of resampled values (vectorized);
* metrics whose aggregate is a function of summed per-example statistics
  (:meth:`~promptsearch.metrics.BaseMetric.sufficient_statistics`: macro-F1's per-class counts,
  BLEU's and chrF's n-gram counts; a plugin metric may define them too) sum those statistics
  over every resample at once, as one matrix product of the resample counts and the
  statistics, instead of rebuilding each resample's predictions and re-aggregating it;
* any other non-paired metric falls back to ``bootstrap_interval``.

Measured on a shared 2-core CPU, 1000 examples and 1000 resamples: the intervals of all five text
metrics take 0.1-0.25 s on top of computing the metrics themselves (0.7-0.9 s, mostly ROUGE-L
and SQuAD scoring); calling ``bootstrap_interval`` on each took 3-4 s, 1-2 s each for BLEU and chrF.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from promptsearch.metrics import (
    BaseMetric,
    Predictions,
    bootstrap_interval,
    draw_counts,
    get_metric,
    resampled_values,
)

__all__ = ["resample_counts", "score_metrics"]


def resample_counts(n: int, *, n_resamples: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap resamples of ``bootstrap_interval``: their indices and, per resample, how often
    each example was drawn (``n_resamples x n`` each)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    return idx, draw_counts(idx)


def score_metrics(
    predictions: Predictions,
    names: Sequence[str],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """The value of every metric in ``names`` and its percentile bootstrap interval.

    Args:
        predictions: What a prompt produced on some examples, with the expected answers.
        names: Registered metric names that read ``predictions.kind``.
        n_resamples, confidence, seed: As in :func:`promptsearch.metrics.bootstrap_interval`,
            whose intervals these are.

    Returns:
        ``(values, intervals)``, both keyed by metric name.

    Example:
        >>> p = Predictions("label", (1,) * 80 + (0,) * 20, (1,) * 100, n_labels=2)
        >>> values, intervals = score_metrics(p, ["accuracy", "macro_f1"])
        >>> values["accuracy"], intervals["accuracy"][0] < 0.8 < intervals["accuracy"][1]
        (0.8, True)
    """
    n = len(predictions)
    values: dict[str, float] = {}
    intervals: dict[str, tuple[float, float]] = {}
    if n == 0:
        for name in names:
            values[name] = get_metric(name).aggregate(predictions)
            intervals[name] = (0.0, 0.0)
        return values, intervals
    idx, counts = resample_counts(n, n_resamples=n_resamples, seed=seed)
    alpha = (1.0 - confidence) / 2
    for name in names:
        metric = get_metric(name)
        resampled = _resampled(metric, predictions, idx, counts)
        if resampled is None:
            values[name] = metric.aggregate(predictions)
            intervals[name] = bootstrap_interval(
                metric, predictions, n_resamples=n_resamples, confidence=confidence, seed=seed
            )
            continue
        value, samples = resampled
        values[name] = value
        intervals[name] = (float(np.quantile(samples, alpha)), float(np.quantile(samples, 1 - alpha)))
    return values, intervals


def _resampled(
    metric: BaseMetric, predictions: Predictions, idx: np.ndarray, counts: np.ndarray
) -> tuple[float, np.ndarray] | None:
    """The metric's value and its value on every resample, or ``None`` without a fast path."""
    if metric.paired:
        per = metric.per_example(predictions)
        # A paired metric's aggregate is the mean of its per-example values unless it says otherwise.
        overridden = type(metric).aggregate is not BaseMetric.aggregate
        value = metric.aggregate(predictions) if overridden else float(np.mean(per))
        return value, per[idx].mean(axis=1)
    stats = metric.sufficient_statistics(predictions)
    if stats is None:
        return None
    full = stats.sum(axis=0, keepdims=True).astype(np.int64)
    value = float(metric.aggregate_statistics(predictions, full)[0])
    return value, resampled_values(metric, predictions, idx, counts, stats)

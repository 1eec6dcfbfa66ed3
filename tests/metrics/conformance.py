"""What every metric must do, checked the same way for all of them.

:func:`check_metric` builds predictions of every kind the metric reads and checks: one finite
value per example, the aggregate is the mean of them for paired metrics, perfect predictions
score at least as well as poor ones, the result does not depend on how examples were chunked,
sufficient statistics (where a metric has them) sum to its aggregate,
a bootstrap interval brackets the value, no examples give a finite value, and kinds it cannot
read are refused with a :class:`~promptsearch.exceptions.ConfigError`.
"""

from __future__ import annotations

import numpy as np
import pytest

from promptsearch.exceptions import ConfigError
from promptsearch.metrics import KINDS, BaseMetric, Predictions, bootstrap_interval, metrics

__all__ = ["check_metric", "sample_predictions"]

_WORDS = ("paris", "the eiffel tower", "rome", "a red car", "blue", "forty two", "yes", "no")


def sample_predictions(kind: str, *, perfect: bool = False, n: int = 60, seed: int = 0) -> Predictions:
    """Predictions of ``kind`` about 60 % right (all right with ``perfect``)."""
    rng = np.random.default_rng(seed)
    right = np.ones(n, dtype=bool) if perfect else rng.random(n) < 0.6
    if kind == "text":
        targets = tuple(
            tuple(rng.choice(_WORDS, size=int(rng.integers(1, 3)), replace=False)) for _ in range(n)
        )
        predicted = tuple(
            str(t[0]) if ok else str(rng.choice(_WORDS)) + " maybe" for t, ok in zip(targets, right)
        )
        return Predictions("text", predicted, targets)
    n_labels = 3 if kind == "label" else 4
    y = rng.integers(0, n_labels, n)
    p = np.where(right, y, (y + rng.integers(1, n_labels, n)) % n_labels)
    confidence = tuple(float(c) for c in rng.random(n))
    return Predictions(
        kind,
        tuple(int(v) for v in p),
        tuple(int(v) for v in y),
        n_labels if kind == "label" else 0,
        confidence,
    )  # type: ignore[arg-type]


def check_metric(metric: BaseMetric) -> None:
    """Every check of this suite, for every kind ``metric`` reads."""
    assert metric.name and metrics.get(metric.name) is metric
    assert metric.kinds and set(metric.kinds) <= set(KINDS)
    assert metric.direction in ("maximize", "minimize")
    better = 1.0 if metric.direction == "maximize" else -1.0
    for kind in metric.kinds:
        preds = sample_predictions(kind)
        values = metric.per_example(preds)
        assert values.shape == (len(preds),) and np.all(np.isfinite(values))
        value = metric.aggregate(preds)
        assert np.isfinite(value)
        if metric.paired:
            assert value == pytest.approx(float(np.mean(values)))
        assert better * metric.aggregate(sample_predictions(kind, perfect=True)) >= better * value
        assert metric.aggregate(preds) == value  # deterministic
        halves = Predictions.concat([preds.subset(range(0, 25)), preds.subset(range(25, len(preds)))])
        assert metric.aggregate(halves) == pytest.approx(value)
        stats = metric.sufficient_statistics(preds)
        if stats is not None:  # summed statistics must give the aggregate, on any subset too
            assert stats.shape[0] == len(preds)
            for part in (preds, preds.subset([0, 0, 3, 7, 7, 7, 11])):
                part_stats = metric.sufficient_statistics(part)
                assert part_stats is not None
                summed = metric.aggregate_statistics(part, part_stats.sum(axis=0, keepdims=True))
                assert float(summed[0]) == pytest.approx(metric.aggregate(part))
        low, high = bootstrap_interval(metric, preds, n_resamples=200)
        assert low <= value + 1e-9 and value - 1e-9 <= high
        empty = Predictions(kind, (), (), preds.n_labels)  # type: ignore[arg-type]
        assert np.isfinite(metric.aggregate(empty)) and metric.per_example(empty).shape == (0,)
        metric.check_kind(kind)
    for kind in set(KINDS) - set(metric.kinds):
        with pytest.raises(ConfigError, match=metric.name):
            metric.check_kind(kind)

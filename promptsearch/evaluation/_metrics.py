"""Classification metrics with bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from promptsearch._registry import Registry

__all__ = ["MetricFn", "bootstrap_ci", "compute_metrics", "metrics"]

MetricFn = Callable[[np.ndarray, np.ndarray, int], float]


def _accuracy(y: np.ndarray, p: np.ndarray, n_labels: int) -> float:
    return float(np.mean(y == p)) if len(y) else 0.0


def _macro_f1(y: np.ndarray, p: np.ndarray, n_labels: int) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, labels=list(range(n_labels)), average="macro", zero_division=0))


def _balanced_accuracy(y: np.ndarray, p: np.ndarray, n_labels: int) -> float:
    # Mean recall over the classes present in y (scikit-learn's definition), vectorized for bootstrap.
    recalls = [float(np.mean(p[y == c] == c)) for c in range(n_labels) if np.any(y == c)]
    return float(np.mean(recalls)) if recalls else 0.0


metrics: Registry[MetricFn] = Registry("metric")
metrics.register("accuracy", _accuracy)
metrics.register("macro_f1", _macro_f1)
metrics.register("balanced_accuracy", _balanced_accuracy)


def compute_metrics(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_labels: int
) -> dict[str, float]:
    """Return every registered metric of the predictions."""
    y, p = np.asarray(y_true), np.asarray(y_pred)
    return {name: metrics.get(name)(y, p, n_labels) for name in metrics.names()}


def bootstrap_ci(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    n_labels: int,
    *,
    metric: str = "accuracy",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over examples."""
    y, p = np.asarray(y_true), np.asarray(y_pred)
    if len(y) == 0:
        return (0.0, 0.0)
    fn = metrics.get(metric)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_resamples, len(y)))
    if metric == "accuracy":
        values = (y[idx] == p[idx]).mean(axis=1)
    else:
        values = np.array([fn(y[i], p[i], n_labels) for i in idx])
    alpha = (1.0 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))

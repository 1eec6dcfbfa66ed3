"""Label-array helpers kept for callers of the classification API (see :mod:`promptsearch.metrics`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from promptsearch.metrics import Predictions, bootstrap_interval, get_metric, metrics_for

__all__ = ["bootstrap_ci", "compute_metrics"]


def _predictions(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_labels: int
) -> Predictions:
    return Predictions(
        "label",
        tuple(int(v) for v in np.asarray(y_pred)),
        tuple(int(v) for v in np.asarray(y_true)),
        n_labels,
    )


def compute_metrics(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_labels: int
) -> dict[str, float]:
    """Every registered metric of class predictions."""
    preds = _predictions(y_true, y_pred, n_labels)
    return {name: get_metric(name).aggregate(preds) for name in metrics_for("label")}


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
    return bootstrap_interval(
        get_metric(metric),
        _predictions(y_true, y_pred, n_labels),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )

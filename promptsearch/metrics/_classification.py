"""Metrics over class and choice indices: accuracy, balanced accuracy and macro-F1."""

from __future__ import annotations

import numpy as np

from promptsearch.metrics._base import BaseMetric, Predictions, register_metric

__all__ = ["ACCURACY", "MACRO_F1", "Accuracy", "BalancedAccuracy", "MacroF1"]


def _arrays(predictions: Predictions) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(predictions.targets, dtype=np.int64), np.asarray(predictions.predicted, dtype=np.int64)


#: The names of the metrics other modules refer to (leaderboard columns, defaults).
ACCURACY = "accuracy"
MACRO_F1 = "macro_f1"


@register_metric
class Accuracy(BaseMetric):
    """Share of examples whose predicted class (or choice) is the expected one."""

    name = ACCURACY
    kinds = frozenset({"label", "choice"})
    class_weighted = True

    def per_example(self, predictions: Predictions) -> np.ndarray:
        y, p = _arrays(predictions)
        out: np.ndarray = (y == p).astype(np.float64)
        return out


@register_metric
class BalancedAccuracy(BaseMetric):
    """Mean recall over the classes present (scikit-learn's definition).

    It is the mean of per-example values ``correct * n / (n_classes_present * n_class)``, so it
    feeds paired pruners exactly; on a balanced set it equals accuracy.
    """

    name = "balanced_accuracy"
    kinds = frozenset({"label"})

    def per_example(self, predictions: Predictions) -> np.ndarray:
        y, p = _arrays(predictions)
        if not len(y):
            return np.zeros(0)
        classes, counts = np.unique(y, return_counts=True)
        per_class = dict(zip(classes.tolist(), counts.tolist()))
        weight = np.array([len(y) / (len(classes) * per_class[int(c)]) for c in y])
        out: np.ndarray = (y == p).astype(np.float64) * weight
        return out


@register_metric
class MacroF1(BaseMetric):
    """Unweighted mean of the per-class F1 scores over every class of the task.

    Not a mean over examples (``paired = False``): per-example values are correctness, a proxy
    that paired pruners may compare.
    """

    name = MACRO_F1
    kinds = frozenset({"label"})
    paired = False

    def per_example(self, predictions: Predictions) -> np.ndarray:
        y, p = _arrays(predictions)
        out: np.ndarray = (y == p).astype(np.float64)
        return out

    def aggregate(self, predictions: Predictions) -> float:
        y, p = _arrays(predictions)
        if not len(y):
            return 0.0
        n = max(predictions.n_labels, int(max(y.max(), p.max())) + 1)
        # Vectorized per-class counts (the same as scikit-learn's f1_score(average="macro"),
        # zero_division=0), fast enough for bootstrap resampling.
        tp = np.bincount(y[y == p], minlength=n).astype(np.float64)
        pred = np.bincount(p, minlength=n).astype(np.float64)
        true = np.bincount(y, minlength=n).astype(np.float64)
        denom = pred + true
        f1 = np.divide(2 * tp, denom, out=np.zeros(n), where=denom > 0)
        return float(f1.mean())

    def sufficient_statistics(self, predictions: Predictions) -> np.ndarray | None:
        """Per example: one-hot true positives, predictions and truths per class (n x 3C)."""
        y, p = _arrays(predictions)
        if not len(y):
            return None
        top = int(max(y.max(), p.max()))
        if predictions.n_labels <= top or min(int(y.min()), int(p.min())) < 0:
            return None  # The class count would vary between resamples: recompute them one by one.
        classes = np.arange(predictions.n_labels)
        tp = (y == p)[:, None] & (y[:, None] == classes)
        return np.concatenate([tp, p[:, None] == classes, y[:, None] == classes], axis=1).astype(np.int64)

    def aggregate_statistics(self, predictions: Predictions, totals: np.ndarray) -> np.ndarray:
        c = predictions.n_labels
        tp, pred, true = totals[:, :c], totals[:, c : 2 * c], totals[:, 2 * c :]
        denom = (pred + true).astype(np.float64)
        f1 = np.divide(2.0 * tp, denom, out=np.zeros(denom.shape), where=denom > 0)
        out: np.ndarray = f1.mean(axis=1)
        return out

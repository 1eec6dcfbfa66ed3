"""Classification metrics against scikit-learn, and bootstrap intervals of label predictions."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score

from promptsearch.metrics import Predictions, bootstrap_interval, get_metric


def _labels(y: np.ndarray, p: np.ndarray, n: int) -> Predictions:
    return Predictions("label", tuple(int(v) for v in p), tuple(int(v) for v in y), n)


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = np.where(rng.random(200) < 0.7, y, rng.integers(0, 3, 200))
    preds = _labels(y, p, 3)
    assert get_metric("accuracy").aggregate(preds) == np.mean(y == p)
    assert abs(get_metric("macro_f1").aggregate(preds) - f1_score(y, p, average="macro")) < 1e-12
    assert abs(get_metric("balanced_accuracy").aggregate(preds) - balanced_accuracy_score(y, p)) < 1e-12


def test_bootstrap_interval_brackets_the_value_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(1)
    y_small = rng.integers(0, 2, 50)
    y_big = rng.integers(0, 2, 2000)
    p_small = np.where(rng.random(50) < 0.8, y_small, 1 - y_small)
    p_big = np.where(rng.random(2000) < 0.8, y_big, 1 - y_big)
    accuracy = get_metric("accuracy")
    lo_s, hi_s = bootstrap_interval(accuracy, _labels(y_small, p_small, 2))
    lo_b, hi_b = bootstrap_interval(accuracy, _labels(y_big, p_big, 2))
    assert lo_s <= np.mean(y_small == p_small) <= hi_s
    assert lo_b <= np.mean(y_big == p_big) <= hi_b
    assert (hi_b - lo_b) < (hi_s - lo_s)
    lo_f, hi_f = bootstrap_interval(get_metric("macro_f1"), _labels(y_small, p_small, 2), n_resamples=200)
    assert 0 <= lo_f <= hi_f <= 1

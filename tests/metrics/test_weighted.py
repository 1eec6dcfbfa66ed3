"""Accuracy estimated at the data's class balance from examples of another balance."""

from __future__ import annotations

import numpy as np
import pytest

from promptsearch.metrics import (
    ClassWeighted,
    Predictions,
    class_weights,
    get_metric,
    paired_bootstrap,
    weighted_by_class,
)


def test_weighted_accuracy_is_the_prior_weighted_mean_of_class_recalls() -> None:
    rng = np.random.default_rng(0)
    targets = [0] * 40 + [1] * 40 + [2] * 40  # a balanced selection set
    predicted = [
        t if rng.random() < r else (t + 1) % 3 for t, r in zip(targets, [0.9] * 40 + [0.5] * 40 + [0.2] * 40)
    ]
    shares = [0.78, 0.13, 0.09]  # the data's balance
    p = Predictions("label", tuple(predicted), tuple(targets), n_labels=3)
    metric = weighted_by_class(get_metric("accuracy"), targets, shares)
    assert isinstance(metric, ClassWeighted) and metric.name == "accuracy" and metric.paired
    recall = [np.mean([a == b for a, b in zip(predicted, targets) if b == c]) for c in range(3)]
    assert metric.aggregate(p) == pytest.approx(sum(s * r for s, r in zip(shares, recall)))
    assert metric.aggregate(p) != pytest.approx(get_metric("accuracy").aggregate(p))


def test_metrics_that_weight_classes_equally_are_left_alone() -> None:
    for name in ("macro_f1", "balanced_accuracy", "exact_match"):
        metric = get_metric(name)
        assert weighted_by_class(metric, [0, 0, 1], [0.5, 0.5]) is metric
    accuracy = get_metric("accuracy")
    assert weighted_by_class(accuracy, [0, 1], [0.5, 0.5]) is accuracy  # already the data's balance
    assert weighted_by_class(accuracy, [0, 1], []) is accuracy  # no classes


def test_a_class_absent_from_the_examples_gets_no_weight() -> None:
    assert class_weights([0, 0, 1, 1], [0.6, 0.2, 0.2]) == pytest.approx((1.5, 0.5, 0.0))


def test_the_paired_test_reads_the_weighted_gain() -> None:
    targets = (0,) * 50 + (1,) * 50
    always_zero = Predictions("label", (0,) * 100, targets, n_labels=2)
    fair = Predictions("label", (0,) * 40 + (1,) * 10 + (1,) * 40 + (0,) * 10, targets, n_labels=2)
    plain = paired_bootstrap(get_metric("accuracy"), fair, always_zero)
    weighted = paired_bootstrap(
        weighted_by_class(get_metric("accuracy"), targets, [0.9, 0.1]), fair, always_zero
    )
    assert plain.gain == pytest.approx(0.3) and plain.p_value < 0.01
    assert weighted.gain == pytest.approx(0.9 * 0.8 + 0.1 * 0.8 - 0.9) and weighted.p_value > 0.9

"""Every registered metric passes the conformance suite; the built-in ones agree with references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from promptsearch.metrics import (
    BaseMetric,
    Predictions,
    get_metric,
    metrics,
    normalize_answer,
    register_metric,
)
from tests.metrics.conformance import check_metric, sample_predictions


@pytest.mark.parametrize("name", metrics.names())
def test_metric_conformance(name: str) -> None:
    check_metric(metrics.get(name))


def test_classification_metrics_match_scikit_learn() -> None:
    preds = sample_predictions("label", n=300, seed=4)
    y, p = np.array(preds.targets), np.array(preds.predicted)
    assert get_metric("accuracy").aggregate(preds) == pytest.approx(np.mean(y == p))
    assert get_metric("macro_f1").aggregate(preds) == pytest.approx(f1_score(y, p, average="macro"))
    assert get_metric("balanced_accuracy").aggregate(preds) == pytest.approx(balanced_accuracy_score(y, p))
    assert get_metric("balanced_accuracy").paired and not get_metric("macro_f1").paired


def test_text_metrics_use_the_best_reference() -> None:
    preds = Predictions(
        "text",
        ("The Eiffel Tower!", "paris france", "no"),
        (("eiffel tower",), ("Paris", "paris france"), ("yes",)),
    )
    assert list(get_metric("exact_match").per_example(preds)) == [1.0, 1.0, 0.0]
    f1 = get_metric("token_f1").per_example(Predictions("text", ("big red car",), (("red car", "a boat"),)))
    assert f1[0] == pytest.approx(0.8)
    assert normalize_answer("An  apple, please.") == "apple please"


def test_a_registered_metric_is_checked_like_the_others() -> None:
    @register_metric
    class ContainsReference(BaseMetric):
        name = "test_contains"
        kinds = frozenset({"text"})

        def per_example(self, predictions: Predictions) -> np.ndarray:
            pairs = zip(predictions.predicted, predictions.targets)
            return np.array([float(any(r in str(out) for r in refs)) for out, refs in pairs])

    try:
        check_metric(metrics.get("test_contains"))
    finally:
        del metrics._entries["test_contains"]

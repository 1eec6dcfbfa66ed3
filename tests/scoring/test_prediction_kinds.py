"""A new prediction kind is one ``OutputStrategy`` with ``register_output``: predictions and
metrics of that kind are then accepted."""

from __future__ import annotations

import numpy as np
import pytest

import promptsearch.metrics._base as metrics_base
from promptsearch.exceptions import ConfigError
from promptsearch.metrics import BaseMetric, Predictions, prediction_kinds
from promptsearch.scoring import outputs, register_output
from promptsearch.scoring._outputs import ChoiceScores


def test_registering_an_output_strategy_makes_its_kind_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_base, "_kinds", list(metrics_base._kinds))
    monkeypatch.setattr(outputs, "_entries", dict(outputs._entries))
    with pytest.raises(ConfigError, match="Unknown prediction kind 'ranked'"):
        Predictions("ranked", (0,), (0,))

    @register_output
    class Ranked(ChoiceScores):
        kind = "ranked"

    assert "ranked" in prediction_kinds() and outputs.get("ranked").kind == "ranked"

    class TopOne(BaseMetric):
        name, kinds = "top_one", frozenset({"ranked"})

        def per_example(self, predictions: Predictions) -> np.ndarray:
            return (np.array(predictions.predicted) == np.array(predictions.targets)).astype(float)

    preds = Predictions("ranked", (0, 1, 2), (0, 1, 1))
    assert TopOne().aggregate(preds) == pytest.approx(2 / 3)

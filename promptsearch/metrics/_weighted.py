"""A metric estimated at the data's class balance from examples of another balance.

A few-shot dev set holds ``k`` examples per class, but the user's data rarely do: on a
78/12/9 file, accuracy on a balanced set is close to balanced accuracy, and a prompt that
stops predicting the majority class wins there and collapses on the data. Weighting each
example by ``share_in_data(class) / share_among_examples(class)`` makes the mean of a
per-example metric (accuracy) estimate its value on the data instead. Metrics that weight
classes equally by definition (balanced accuracy, macro-F1) are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from promptsearch.metrics._base import BaseMetric, Predictions

__all__ = ["ClassWeighted", "class_weights", "weighted_by_class"]


class ClassWeighted(BaseMetric):
    """``metric`` with each example's value multiplied by its class's weight (see :func:`weighted_by_class`).

    It keeps the wrapped metric's name, direction and scale, and is paired: its aggregate is
    the mean of the weighted values, so pruners and the paired winner test read it as they are.
    """

    paired = True

    def __init__(self, metric: BaseMetric, weights: Sequence[float]) -> None:
        self.metric = metric
        self.weights = np.asarray(weights, dtype=np.float64)

    def per_example(self, predictions: Predictions) -> np.ndarray:
        values = self.metric.per_example(predictions)
        if not len(values):
            return values
        out: np.ndarray = values * self.weights[np.asarray(predictions.targets, dtype=np.int64)]
        return out

    def __repr__(self) -> str:
        return f"ClassWeighted({self.metric!r}, weights={[round(float(w), 4) for w in self.weights]})"


def class_weights(targets: Sequence[int], shares: Sequence[float]) -> tuple[float, ...]:
    """Per class, ``shares[c]`` over class ``c``'s share of ``targets``.

    Classes absent from ``targets`` get weight 0 and the others' shares are renormalized, so
    that the weights average 1 over ``targets``.

    Example:
        >>> [round(w, 3) for w in class_weights([0, 0, 1, 1], [0.8, 0.2])]  # balanced -> 80/20
        [1.6, 0.4]
    """
    n = len(targets)
    counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=len(shares)) if n else np.zeros(0)
    present = [c for c in range(len(shares)) if n and counts[c] > 0]
    mass = sum(float(shares[c]) for c in present)
    if not present or mass <= 0:
        return tuple(1.0 for _ in shares)
    return tuple(
        float((float(shares[c]) / mass) / (counts[c] / n)) if c in present else 0.0
        for c in range(len(shares))
    )


def weighted_by_class(metric: BaseMetric, targets: Sequence[int], shares: Sequence[float]) -> BaseMetric:
    """``metric`` as it would read on examples at ``shares`` (the data's class balance), given
    examples whose classes are ``targets``.

    Returns ``metric`` itself when it does not depend on the class mix
    (``metric.class_weighted`` false: balanced accuracy, macro-F1, generation metrics), when
    there are no class shares, or when the examples already have the data's balance.

    Example:
        >>> from promptsearch.metrics import get_metric
        >>> acc = weighted_by_class(get_metric("accuracy"), [0, 0, 1, 1], [0.8, 0.2])
        >>> p = Predictions("label", (0, 0, 0, 0), (0, 0, 1, 1), n_labels=2)  # always class 0
        >>> get_metric("accuracy").aggregate(p), round(acc.aggregate(p), 3)
        (0.5, 0.8)
    """
    if not metric.class_weighted or not metric.paired or not shares or not len(targets):
        return metric
    weights = class_weights(targets, shares)
    if np.allclose(weights, 1.0, atol=1e-9):
        return metric
    attrs = {
        "name": metric.name,
        "kinds": metric.kinds,
        "direction": metric.direction,
        "scale": metric.scale,
        "class_weighted": True,
    }
    cls = type(f"ClassWeighted[{metric.name}]", (ClassWeighted,), attrs)
    out: BaseMetric = cls(metric, weights)
    return out

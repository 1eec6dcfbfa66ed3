"""Metrics as objects: per-example values, an aggregate, a direction and whether they pair.

Every metric is registered by name in :data:`metrics`; a search space picks the one the study
optimizes with ``metric: NAME`` (default: the task's). Adding a metric is one class with
:func:`register_metric`.

Example:
    >>> from promptsearch.metrics import Predictions, get_metric
    >>> p = Predictions("label", predicted=(0, 1, 1, 1), targets=(0, 1, 0, 1), n_labels=2)
    >>> get_metric("accuracy").aggregate(p), round(get_metric("macro_f1").aggregate(p), 3)
    (0.75, 0.733)
"""

from promptsearch.metrics._base import (
    KINDS,
    BaseMetric,
    Predictions,
    direction_sign,
    get_metric,
    metrics,
    metrics_for,
    prediction_kinds,
    register_metric,
    register_prediction_kind,
)
from promptsearch.metrics._bootstrap import (
    PairedGain,
    bootstrap_interval,
    draw_counts,
    paired_bootstrap,
    resampled_values,
)
from promptsearch.metrics._classification import ACCURACY, MACRO_F1, Accuracy, BalancedAccuracy, MacroF1
from promptsearch.metrics._rouge import RougeL
from promptsearch.metrics._sacrebleu import Bleu, Chrf
from promptsearch.metrics._text import EXACT_MATCH, ExactMatch, TokenF1, normalize_answer, squad_scores
from promptsearch.metrics._weighted import ClassWeighted, class_weights, weighted_by_class

__all__ = [
    "ACCURACY",
    "EXACT_MATCH",
    "KINDS",
    "MACRO_F1",
    "Accuracy",
    "BalancedAccuracy",
    "BaseMetric",
    "Bleu",
    "Chrf",
    "ClassWeighted",
    "ExactMatch",
    "MacroF1",
    "PairedGain",
    "Predictions",
    "RougeL",
    "TokenF1",
    "bootstrap_interval",
    "class_weights",
    "direction_sign",
    "draw_counts",
    "get_metric",
    "metrics",
    "metrics_for",
    "normalize_answer",
    "paired_bootstrap",
    "prediction_kinds",
    "register_metric",
    "register_prediction_kind",
    "resampled_values",
    "squad_scores",
    "weighted_by_class",
]

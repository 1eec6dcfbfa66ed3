"""The metric interface: per-example values, an aggregate, a direction, and pairing.

A metric reads a :class:`Predictions` record (what a prompt produced on some examples and
what was expected) and gives one value per example plus an aggregate. ``paired`` says whether
the aggregate is the mean of the per-example values; only then can those values feed a paired
pruner (Wilcoxon, sign test) as they are. Metrics are registered by name in :data:`metrics`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from promptsearch._registry import Registry
from promptsearch.exceptions import ConfigError

__all__ = [
    "KINDS",
    "BaseMetric",
    "Predictions",
    "direction_sign",
    "get_metric",
    "metrics",
    "prediction_kinds",
    "register_metric",
    "register_prediction_kind",
]

Kind = str
#: The built-in kinds of what a prompt produces: a class index (``label``), an index into each
#: example's own choices (``choice``) or a generated text (``text``). A plugin adds one with
#: :func:`register_prediction_kind` (``scoring.register_output`` does it for its strategy).
KINDS: tuple[str, ...] = ("label", "choice", "text")
_kinds: list[str] = list(KINDS)


def register_prediction_kind(kind: str) -> None:
    """Make ``kind`` a prediction kind that :class:`Predictions` and metrics' ``kinds`` may name
    (registering a known kind again does nothing)."""
    if not kind or not isinstance(kind, str):
        raise ConfigError(f"A prediction kind is a non-empty name, got {kind!r}.")
    if kind not in _kinds:
        _kinds.append(kind)


def prediction_kinds() -> tuple[str, ...]:
    """The built-in kinds and those registered since."""
    return tuple(_kinds)


@dataclass(frozen=True)
class Predictions:
    """What a prompt produced on examples, next to what was expected.

    Attributes:
        kind: ``"label"``, ``"choice"`` or ``"text"`` (see :data:`KINDS`).
        predicted: Class or choice indices, or generated texts, in example order.
        targets: Expected class or choice indices, or for texts a tuple of references each.
        n_labels: Number of classes (``label`` predictions only).
        confidence: Probability the model gave the expected answer, per example (``label``
            and ``choice`` predictions); used to break ties between prompts.

    Example:
        >>> p = Predictions("label", (1, 0, 1), (1, 1, 1), n_labels=2)
        >>> metrics.get("accuracy").aggregate(p)
        0.6666666666666666
    """

    kind: Kind
    predicted: tuple[Any, ...]
    targets: tuple[Any, ...]
    n_labels: int = 0
    confidence: tuple[float, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.kind not in _kinds:
            raise ConfigError(f"Unknown prediction kind {self.kind!r}; use one of {list(_kinds)}.")
        if len(self.predicted) != len(self.targets):
            raise ConfigError(
                f"Predictions has {len(self.predicted)} predictions but {len(self.targets)} targets."
            )
        if self.confidence and len(self.confidence) != len(self.predicted):
            raise ConfigError("Predictions.confidence needs one value per prediction.")

    def __len__(self) -> int:
        return len(self.predicted)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Predictions:
        """The predictions of the examples at ``indices`` (repeats allowed: bootstrap samples)."""
        idx = [int(i) for i in indices]
        return Predictions(
            self.kind,
            tuple(self.predicted[i] for i in idx),
            tuple(self.targets[i] for i in idx),
            self.n_labels,
            tuple(self.confidence[i] for i in idx) if self.confidence else (),
        )

    @classmethod
    def concat(cls, parts: Sequence[Predictions]) -> Predictions:
        """Join predictions of consecutive chunks of examples."""
        if not parts:
            raise ConfigError("Nothing to concatenate.")
        first = parts[0]
        return cls(
            first.kind,
            tuple(x for p in parts for x in p.predicted),
            tuple(x for p in parts for x in p.targets),
            first.n_labels,
            tuple(x for p in parts for x in p.confidence) if all(p.confidence for p in parts) else (),
        )


def direction_sign(direction: str) -> float:
    """+1.0 for ``"maximize"``, -1.0 for ``"minimize"``: the one place a direction becomes a sign.

    >>> direction_sign("minimize")
    -1.0
    """
    return 1.0 if direction == "maximize" else -1.0


class BaseMetric(ABC):
    """A metric over :class:`Predictions`.

    Subclasses set :attr:`name` and :attr:`kinds` and implement :meth:`per_example`;
    metrics whose aggregate is not the mean of the per-example values (macro-F1, corpus
    BLEU) set ``paired = False`` and override :meth:`aggregate`. Their per-example values
    are then a proxy that pruners may use (correctness for macro-F1). Those whose aggregate is
    a function of summed per-example statistics may also define :meth:`sufficient_statistics`
    and :meth:`aggregate_statistics` (a subclass that changes the aggregate changes both): their
    bootstrap intervals are then computed from the sums, fast enough for every test set.

    Attributes:
        name: Registry name, used in search spaces (``metric: macro_f1``) and reports.
        kinds: Prediction kinds the metric can read.
        direction: ``"maximize"`` or ``"minimize"``.
        paired: Whether ``aggregate`` is the mean of ``per_example``.
        scale: Values lie in ``[0, scale]``; reports print ``100 * value / scale`` as points.
        class_weighted: Whether the metric's value depends on the mix of classes among the
            examples (accuracy does; balanced accuracy and macro-F1 weight classes equally).
            A search then weights each selection example by its class's share in the data
            over its share among the selection examples (see
            :func:`~promptsearch.metrics.weighted_by_class`), so that the metric estimates
            its value on the data's own balance. Paired metrics only.
    """

    name: ClassVar[str] = ""
    kinds: ClassVar[frozenset[str]] = frozenset()
    direction: ClassVar[Literal["maximize", "minimize"]] = "maximize"
    paired: ClassVar[bool] = True
    scale: ClassVar[float] = 1.0
    class_weighted: ClassVar[bool] = False

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is (``sign * value`` is always "higher is better")."""
        return direction_sign(self.direction)

    @abstractmethod
    def per_example(self, predictions: Predictions) -> np.ndarray:
        """One value per example (float64), in example order."""

    def aggregate(self, predictions: Predictions) -> float:
        """The metric over all the examples (the mean of :meth:`per_example` by default)."""
        if not len(predictions):
            return 0.0
        return float(np.mean(self.per_example(predictions)))

    def sufficient_statistics(self, predictions: Predictions) -> np.ndarray | None:
        """Per-example statistics (examples x k) whose column sums determine the aggregate.

        Non-paired metrics that have them (macro-F1's per-class counts, BLEU's and chrF's n-gram
        counts) return them, with :meth:`aggregate_statistics`: bootstrap intervals then sum
        them over every resample at once instead of re-aggregating each resample. ``None`` (the
        default, or for predictions that do not allow it) means no such shortcut.
        """
        return None

    def aggregate_statistics(self, predictions: Predictions, totals: np.ndarray) -> np.ndarray:
        """The aggregate of every row of summed :meth:`sufficient_statistics` (rows x k)."""
        raise NotImplementedError(f"{type(self).__name__} has no sufficient statistics.")

    def check_kind(self, kind: str, where: str = "metric") -> None:
        """Raise :class:`ConfigError` when this metric cannot read ``kind`` predictions."""
        if kind not in self.kinds:
            raise ConfigError(
                f"{where}: {self.name!r} reads {sorted(self.kinds)} predictions, but this task produces "
                f"{kind!r} predictions; choose a metric for it ({', '.join(metrics_for(kind))})."
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


#: Metric name -> metric instance (lazy ``"module:attr"`` entries are imported on first use).
metrics: Registry[BaseMetric] = Registry("metric")


def register_metric(cls: type[BaseMetric]) -> type[BaseMetric]:
    """Class decorator: register an instance of ``cls`` under ``cls.name``.

    Example:
        >>> @register_metric
        ... class Always(BaseMetric):
        ...     name, kinds = "always_one_doc", frozenset({"label"})
        ...     def per_example(self, predictions): return np.ones(len(predictions))
        >>> metrics.get("always_one_doc").aggregate(Predictions("label", (0,), (1,), n_labels=2))
        1.0
    """
    if not cls.name or not cls.kinds:
        raise ConfigError(f"{cls.__name__} needs a name and the prediction kinds it reads.")
    metrics.register(cls.name, cls())
    return cls


def get_metric(name: str) -> BaseMetric:
    """The metric registered as ``name`` (unknown names suggest close ones)."""
    return metrics.get(name)


def metrics_for(kind: str) -> list[str]:
    """Names of the registered metrics that read ``kind`` predictions."""
    return [n for n in metrics.names() if kind in metrics.get(n).kinds]

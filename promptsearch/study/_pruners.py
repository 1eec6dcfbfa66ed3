"""Pruners by name, each registered with whether it compares trials example by example.

``wilcoxon`` and ``sign`` get one value per dev example (the step is the example's index,
the same in every trial); the others get the running objective. :class:`RoutedPruner` sends
tuning runs' training curves to a median rule and their dev examples to the study's pruner.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptsearch._registry import Registry

if TYPE_CHECKING:
    import optuna

__all__ = [
    "DEFAULT_PRUNER",
    "TRAIN_STEP_OFFSET",
    "PrunerEntry",
    "RoutedPruner",
    "make_pruner",
    "make_routed_pruner",
    "make_sign_test_pruner",
    "pruners",
    "register_pruner",
    "sign_test_p_value",
]

#: Training curves of tuned trials are reported at steps from ``TRAIN_STEP_OFFSET * (1 + i)``.
TRAIN_STEP_OFFSET = 1_000_000


@dataclass(frozen=True)
class PrunerEntry:
    """A registered pruner.

    Attributes:
        factory: ``factory(options, resolution) -> optuna pruner``; ``resolution`` is the
            smallest difference of per-example objective values that means something (values
            closer are ties), which the search engine knows from its objective.
        per_example: The pruner needs one value per dev example at a fixed step.
    """

    factory: Callable[[dict[str, Any], float], optuna.pruners.BasePruner]
    per_example: bool = False


#: Pruner name -> :class:`PrunerEntry`.
pruners: Registry[PrunerEntry] = Registry("pruner")

#: The pruner of a space without a ``pruner`` section.
DEFAULT_PRUNER = "wilcoxon"


def register_pruner(
    name: str, factory: Callable[[dict[str, Any], float], Any], *, per_example: bool = False
) -> None:
    """Register a pruner factory under ``name`` (the space's ``pruner.name``)."""
    pruners.register(name, PrunerEntry(factory, per_example))


def make_pruner(name: str, options: Mapping[str, Any] | None = None, *, resolution: float = 0.0) -> Any:
    """Build the pruner registered as ``name`` with ``options`` (its constructor's arguments)."""
    return pruners.get(name).factory(dict(options or {}), resolution)


def sign_test_p_value(worse: int, better: int) -> float:
    """P(X >= worse) for X ~ Binomial(worse + better, 1/2): the exact one-sided sign test."""
    n = worse + better
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(worse, n + 1)) / 2.0**n


def make_sign_test_pruner(
    p_threshold: float = 0.1, n_startup_steps: int = 4, min_difference: float = 0.0
) -> optuna.pruners.BasePruner:
    """Build a :class:`SignTestPruner` (an Optuna pruner)."""
    import optuna

    class SignTestPruner(optuna.pruners.BasePruner):
        """Prunes a trial whose per-example values are significantly worse than the best trial's.

        Each step is one dev example, reported with the same step in every trial (as for
        Optuna's ``WilcoxonPruner``). On the examples both trials have seen, ``worse`` counts
        those where this trial's value is below the best's by more than ``min_difference``
        (above, for a minimized study) and ``better`` the reverse; smaller differences are
        ties. The trial is pruned when the exact one-sided sign test P(X >= worse | worse +
        better, 1/2) is below ``p_threshold``: the most powerful test for paired 0/1 outcomes,
        where a signed-rank test is hampered by ties. Values may lie on any scale.
        """

        def __init__(self) -> None:
            self.p_threshold = p_threshold
            self.n_startup_steps = n_startup_steps
            self.min_difference = min_difference

        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            values = trial.intermediate_values
            if len(values) < self.n_startup_steps:
                return False
            try:
                best = study.best_trial
            except ValueError:
                return False
            common = [s for s in values if s in best.intermediate_values]
            if len(common) < self.n_startup_steps:
                return False
            sign = -1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1.0
            diffs = [sign * (values[s] - best.intermediate_values[s]) for s in common]
            if sum(diffs) >= 0:
                return False
            worse = sum(1 for d in diffs if d < -self.min_difference)
            better = sum(1 for d in diffs if d > self.min_difference)
            return sign_test_p_value(worse, better) < self.p_threshold

    return SignTestPruner()


def _wilcoxon(options: dict[str, Any], resolution: float) -> Any:
    import optuna

    options.setdefault("p_threshold", 0.1)
    options.setdefault("n_startup_steps", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.pruners.WilcoxonPruner(**options)


def _sign(options: dict[str, Any], resolution: float) -> Any:
    options.setdefault("min_difference", resolution)
    return make_sign_test_pruner(**options)


def _optuna(cls_name: str) -> Callable[[dict[str, Any], float], Any]:
    def factory(options: dict[str, Any], resolution: float) -> Any:
        import optuna

        return getattr(optuna.pruners, cls_name)(**options)

    return factory


register_pruner(DEFAULT_PRUNER, _wilcoxon, per_example=True)
register_pruner("sign", _sign, per_example=True)
register_pruner("successive_halving", _optuna("SuccessiveHalvingPruner"))
register_pruner("median", _optuna("MedianPruner"))
register_pruner("none", _optuna("NopPruner"))


class RoutedPruner:
    """Routes pruning decisions: training curves to a median rule, dev examples to ``base``.

    Steps at or above :data:`TRAIN_STEP_OFFSET` are training evaluations of a tuned trial;
    they are compared only with other trials' values at the same step (same mode and step).
    """

    def __init__(self, base: optuna.pruners.BasePruner) -> None:
        import optuna

        self.base = base
        self.training = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is not None and step >= TRAIN_STEP_OFFSET:
            return bool(self.training.prune(study, trial))
        if any(s >= TRAIN_STEP_OFFSET for s in trial.intermediate_values):
            # The base pruner sees only the per-example dev values, as for an untuned trial.
            trial = copy.copy(trial)
            trial.intermediate_values = {
                s: v for s, v in trial.intermediate_values.items() if s < TRAIN_STEP_OFFSET
            }
        return bool(self.base.prune(study, trial))


def make_routed_pruner(base: optuna.pruners.BasePruner) -> optuna.pruners.BasePruner:
    """Wrap ``base`` in a :class:`RoutedPruner` registered as an Optuna pruner."""
    import optuna

    class _Pruner(optuna.pruners.BasePruner):
        def __init__(self) -> None:
            self.routed = RoutedPruner(base)

        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            return self.routed.prune(study, trial)

    return _Pruner()

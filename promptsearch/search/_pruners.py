"""A pruner for per-example 0/1 outcomes: a one-sided sign (McNemar) test on discordant examples."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

__all__ = ["make_sign_test_pruner", "sign_test_p_value"]


def sign_test_p_value(worse: int, better: int) -> float:
    """P(X >= worse) for X ~ Binomial(worse + better, 1/2): the exact one-sided sign test."""
    n = worse + better
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(worse, n + 1)) / 2.0**n


def make_sign_test_pruner(p_threshold: float = 0.1, n_startup_steps: int = 4) -> optuna.pruners.BasePruner:
    """Build a :class:`SignTestPruner` (an Optuna pruner)."""
    import optuna

    class SignTestPruner(optuna.pruners.BasePruner):
        """Prunes a trial whose per-example correctness is significantly worse than the best trial's.

        Each step is one dev example, reported with the same step in every trial (as for
        Optuna's ``WilcoxonPruner``); a value of at least 0.5 counts as correct. On the examples
        both trials have seen, let ``worse`` be those the best trial gets right and this one
        wrong, and ``better`` the reverse. The trial is pruned when the exact one-sided sign
        test P(X >= worse | worse + better, 1/2) is below ``p_threshold``: the most powerful
        test for paired 0/1 outcomes, where a signed-rank test is hampered by the ties of
        every example both get right or both get wrong.
        """

        def __init__(self) -> None:
            self.p_threshold = p_threshold
            self.n_startup_steps = n_startup_steps

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
            mine = sum(values[s] for s in common) / len(common)
            theirs = sum(best.intermediate_values[s] for s in common) / len(common)
            if mine >= theirs:
                return False
            worse = sum(1 for s in common if values[s] < 0.5 <= best.intermediate_values[s])
            better = sum(1 for s in common if best.intermediate_values[s] < 0.5 <= values[s])
            return sign_test_p_value(worse, better) < self.p_threshold

    return SignTestPruner()

"""The confirmation the winner must pass: not worse than the user's template on examples that
no fitting and no selection has seen.

Hundreds of prompts compared on the same selection examples make the best of them look better
than it is, and a paired test on those same examples cannot fully undo that. The split keeps a
confirmation sample at the data's class balance (``split.confirm``); a challenger that won
the paired test replaces the user's template only if it is not worse there beyond noise: on the
study's metric (estimated at the data's class balance) and on every guard metric
(``selection.guards``, macro-F1 by default for classification: a prompt that wins accuracy by
dropping a minority class does not pass), the 90% paired-bootstrap interval of its gain over the
template must reach 0 (a one-sided test at 5%: it is refused when it is worse with 95%
confidence). Otherwise the template is kept and the leaderboard says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptsearch.engine._balance import at_data_balance
from promptsearch.metrics import get_metric, metrics, paired_bootstrap

if TYPE_CHECKING:
    from promptsearch.engine._context import SearchContext
    from promptsearch.engine._winner import Contender

__all__ = ["Confirmation", "confirm_winner", "worse_beyond_noise"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Confirmation:
    """How the winner fared against the user's template on the confirmation examples.

    Attributes:
        n: Confirmation examples.
        passed: Whether the winner was kept (not worse beyond noise on any metric checked).
        gains: Metric name -> (gain, low, high) of the winner over the template (the study's
            metric first, at the data's class balance; then the guards). Intervals at 90%.
        failed_on: The metrics the winner was worse on beyond noise.
    """

    n: int
    passed: bool
    gains: dict[str, tuple[float, float, float]]
    failed_on: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "passed": self.passed,
            "gains": {k: {"gain": g, "low": lo, "high": hi} for k, (g, lo, hi) in self.gains.items()},
            "failed_on": list(self.failed_on),
        }


def worse_beyond_noise(low: float, high: float, sign: float) -> bool:
    """Whether a gain whose 90% interval is ``[low, high]`` is a loss beyond noise: the whole
    interval on the wrong side of 0 (``sign``: +1 when higher is better).

    >>> worse_beyond_noise(-0.052, 0.012, 1.0), worse_beyond_noise(-0.26, -0.026, 1.0)
    (False, True)
    """
    return (high if sign > 0 else -low) < 0


def confirm_winner(ctx: SearchContext, winner: Contender, base: Contender) -> Confirmation | None:
    """Compare ``winner`` with the template ``base`` on ``ctx.split.confirm`` (``None`` when
    the split keeps no confirmation examples, the winner is the template, or
    ``selection.rule: best`` asks for no test against the template)."""
    examples = list(ctx.split.confirm)
    if not examples or winner is base or ctx.space.selection.rule != "paired":
        return None
    objective = ctx.objective
    mine = objective.predictions(winner.prompt, examples, winner.backend)
    theirs = objective.predictions(base.prompt, examples, base.backend)
    study_metric = get_metric(objective.metric.name)
    checked = [at_data_balance(study_metric, ctx.task, examples, ctx.split.shares)]
    for name in ctx.space.selection.guards:
        guard = metrics.get(name)
        if name != study_metric.name and ctx.task.kind.output in guard.kinds:
            checked.append(guard)
    gains: dict[str, tuple[float, float, float]] = {}
    failed: list[str] = []
    for metric in checked:
        g = paired_bootstrap(metric, mine, theirs, confidence=0.9, seed=ctx.split.seed)
        gains[metric.name] = (g.gain, g.low, g.high)
        if worse_beyond_noise(g.low, g.high, metric.sign):
            failed.append(metric.name)
    result = Confirmation(len(examples), not failed, gains, tuple(failed))
    _logger.info(
        "Confirmation on %d examples: %s (%s)",
        len(examples),
        "passed" if result.passed else "failed",
        ", ".join(f"{k} {v[0]:+.4f}" for k, v in gains.items()),
    )
    return result

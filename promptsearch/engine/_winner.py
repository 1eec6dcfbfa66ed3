"""Choosing the winner against the winner's curse: the user's template is the baseline, and a
searched prompt (or an ensemble of the best) replaces it only when a paired test says so.

Hundreds of candidates compared on a few dozen examples make the best-looking one look better
than it is. Every contender is therefore compared with the baseline (the space's first seed
template with the first label words, zero-shot) on the same selection examples, by a paired
bootstrap of the metric; under ``selection.rule: paired`` only contenders whose one-sided
p-value is below ``selection.level`` are eligible, and the one with the highest lower bound of
its gain wins. Without an eligible contender the baseline is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from promptsearch.metrics import PairedGain, Predictions, direction_sign, paired_bootstrap
from promptsearch.templates import Prompt

if TYPE_CHECKING:
    import optuna

    from promptsearch.backends import LMBackend
    from promptsearch.engine._context import SearchContext

__all__ = ["Contender", "baseline_prompt", "choose_winner", "ensemble_of", "score_contender"]

_logger = logging.getLogger(__name__)

#: Origins of contenders that are not a trial's own prompt.
BASELINE, ENSEMBLE = "baseline", "ensemble"


@dataclass(frozen=True)
class Contender:
    """A prompt in the final comparison, with its scores on the selection examples.

    Attributes:
        prompt: The prompt (or ensemble).
        trial: The trial that scored it (``None``: the baseline when no trial did, an ensemble).
        backend: Its own backend (tuned trials), else ``None`` for the study's.
        value: The study's objective on its examples; ``score``: the metric itself.
        predictions: Its predictions on ``example_ids`` (in that order).
        origin: ``baseline``, ``ensemble`` or ``search``.
        gain: Its paired gain over the baseline on the examples both were scored on.
    """

    prompt: Prompt
    trial: optuna.trial.FrozenTrial | None
    backend: LMBackend | None
    value: float
    score: float
    predictions: Predictions
    example_ids: tuple[str, ...]
    origin: str = "search"
    gain: PairedGain | None = None


def baseline_prompt(ctx: SearchContext) -> Prompt:
    """The user's own prompt: the first seed template with the first label words, zero-shot."""
    return ctx.space.baseline_prompt(
        ctx.task.kind.answer_slot, ctx.verbalizers[0] if ctx.verbalizers else None
    )


def score_contender(
    ctx: SearchContext,
    prompt: Prompt,
    *,
    trial: optuna.trial.FrozenTrial | None = None,
    backend: LMBackend | None = None,
    only: frozenset[str] | None = None,
    origin: str = "search",
) -> Contender:
    """Score ``prompt`` on the selection examples (``only``: those with these ids)."""
    examples = [e for _, e in ctx.objective.steps(only)]
    preds = ctx.objective.predictions(prompt, examples, backend)
    return Contender(
        prompt,
        trial,
        backend,
        ctx.objective.objective(preds),
        ctx.objective.metric.aggregate(preds),
        preds,
        tuple(e.id for e in examples),
        origin,
    )


def ensemble_of(ctx: SearchContext, ranked: Sequence[Contender], size: int) -> Contender | None:
    """The ensemble of the ``size`` best untuned contenders (``None`` when it makes no sense:
    fewer than two, or predictions without scores)."""
    from promptsearch.scoring import outputs
    from promptsearch.templates import PromptEnsemble

    if size < 2 or not outputs.get(ctx.task.kind.output).has_scores:
        return None
    members: list[Prompt] = []
    for c in ranked:
        if c.backend is None and c.origin != ENSEMBLE and c.prompt.id not in {m.id for m in members}:
            members.append(c.prompt)
        if len(members) == size:
            break
    if len(members) < 2:
        return None
    ensemble = PromptEnsemble.of(members)
    return score_contender(ctx, ensemble, only=ctx.judged_on(ensemble), origin=ENSEMBLE)


def _aligned(c: Contender, base: Contender) -> tuple[Predictions, Predictions]:
    """Both contenders' predictions on the examples they share, in one order."""
    if c.example_ids == base.example_ids:
        return c.predictions, base.predictions
    where = {eid: i for i, eid in enumerate(base.example_ids)}
    mine = [i for i, eid in enumerate(c.example_ids) if eid in where]
    return c.predictions.subset(mine), base.predictions.subset([where[c.example_ids[i]] for i in mine])


def with_gain(ctx: SearchContext, c: Contender, base: Contender) -> Contender:
    """``c`` with its paired gain over ``base`` (an interval at the selection level, two-sided
    ``1 - 2 * level``, so that its low end is the one-sided bound the rule uses)."""
    a, b = _aligned(c, base)
    level = ctx.space.selection.level
    gain = paired_bootstrap(ctx.objective.metric, a, b, confidence=1 - 2 * level, seed=ctx.split.seed)
    return replace(c, gain=gain)


def choose_winner(
    ctx: SearchContext, contenders: Sequence[Contender], base: Contender
) -> tuple[Contender, str]:
    """The winner among ``contenders`` and the baseline, and a sentence saying why.

    ``contenders`` carry their gains (see :func:`with_gain`) and are ranked best first.
    """
    selection = ctx.space.selection
    direction = ctx.objective.metric.direction
    sign = direction_sign(direction)
    if selection.rule == "best":  # the best searched prompt (the baseline only if it was a trial)
        pool = [*contenders, *([base] if base.trial is not None or not contenders else [])]
        best = max(pool, key=lambda c: sign * c.value)
        return best, "the best score on the selection examples (no test against your template)"
    eligible = [c for c in contenders if c.gain is not None and c.gain.p_value < selection.level]
    if not eligible:
        _logger.info(
            "No prompt beat the baseline in a paired test at level %s; the baseline is kept.", selection.level
        )
        return base, (
            f"no searched prompt beat your template in a paired test at level {selection.level}: it is kept"
        )

    def bound(c: Contender) -> tuple[float, float]:
        assert c.gain is not None
        return (c.gain.lower_bound(direction), sign * c.gain.gain)

    winner = max(eligible, key=bound)
    assert winner.gain is not None
    return winner, (
        f"beats your template in a paired test (p = {winner.gain.p_value:.3f} < {selection.level}), "
        "with the highest lower bound of its gain"
    )

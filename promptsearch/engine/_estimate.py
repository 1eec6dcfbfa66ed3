"""A cost estimate before the trials start, from a short timing probe, and per-phase timing."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptsearch.engine._context import SearchContext

__all__ = ["CostEstimate", "estimate_cost", "timed"]

_logger = logging.getLogger(__name__)

#: Examples the probe scores (they are cached: the baseline trial reuses them).
PROBE_EXAMPLES = 8
#: Seconds a worker waits at most for another worker's probe.
PROBE_WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class CostEstimate:
    """What the rest of a search will cost at most, measured on the baseline prompt.

    Attributes:
        trials: Trials left to run.
        scorings: Example scorings at most (trials x selection examples, plus the final
            re-scoring and test evaluation); pruning stops many trials early.
        examples_per_second: The probe's rate (zero-shot: prompts with demonstrations or
            tuning are slower).
    """

    trials: int
    scorings: int
    examples_per_second: float

    @property
    def minutes(self) -> float:
        return self.scorings / max(self.examples_per_second, 1e-9) / 60


@contextmanager
def timed(phases: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the seconds spent in the ``with`` block to ``phases[name]`` (nothing for ``None``)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if phases is not None:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - start


def estimate_cost(ctx: SearchContext, trials_left: int) -> CostEstimate | None:
    """Time the baseline prompt on a few selection examples and log what the search will cost.

    ``None`` when no trial is left (a finished study) or there is nothing to probe.
    """
    from promptsearch.engine._winner import baseline_prompt
    from promptsearch.engine._workers import worker_id
    from promptsearch.study import StudyAttr, publish_once

    examples = list(ctx.objective.dev[:PROBE_EXAMPLES])
    if trials_left <= 0 or not examples or not ctx.space.templates.seeds:
        return None
    me = worker_id()
    stored = ctx.study.user_attrs.get(StudyAttr.PROBE_RATE)
    owner = publish_once(ctx.study, StudyAttr.PROBE, me) if stored is None else None
    if stored is not None:  # a resumed run: the first run's rate (this one's would hit the cache)
        rate = float(stored)
    elif owner == me:  # one probe per study
        start = time.perf_counter()
        ctx.objective.predictions(baseline_prompt(ctx), examples)
        seconds = time.perf_counter() - start
        rate = len(examples) / seconds if seconds > 0 else 1e9
        ctx.study.set_user_attr(StudyAttr.PROBE_RATE, rate)
    else:  # another worker is probing: wait for its rate
        waited = _await_probe(ctx, str(owner))
        if waited is None:
            return None
        rate = waited
    n_sel = len(ctx.objective.dev)
    limit = ctx.space.final.test_limit
    test_n = min(limit, len(ctx.split.test)) if limit else len(ctx.split.test)
    top = max(1, ctx.space.final.top)
    final = (2 * top + 2) * n_sel + (top + 2) * test_n
    estimate = CostEstimate(trials_left, trials_left * n_sel + final, rate)
    _logger.info(
        "Cost estimate: at most %d example scorings (%d trials x %d examples, pruning stops many early; "
        "%d for the final evaluation); at %.1f examples/s (the baseline, zero-shot) at most %.1f "
        "minutes. Demonstrations and tuning make trials slower; the cache makes repeats free.",
        estimate.scorings,
        trials_left,
        n_sel,
        final,
        rate,
        estimate.minutes,
    )
    return estimate


def _await_probe(ctx: SearchContext, owner: str) -> float | None:
    """The rate another worker's probe stores, once it does: the baseline trial this worker may
    start next scores the same examples, which then come from the shared cache instead of being
    computed twice at the same time. ``None`` if the prober died, a stop was requested or
    :data:`PROBE_WAIT_SECONDS` passed."""
    from promptsearch.engine._workers import POLL_SECONDS, dead
    from promptsearch.study import StudyAttr

    _logger.info("Waiting for the cost probe of worker %s (it scores the baseline's first examples).", owner)
    end = time.monotonic() + PROBE_WAIT_SECONDS
    while time.monotonic() < end and not ctx.stopping() and not dead(owner):
        rate = ctx.study.user_attrs.get(StudyAttr.PROBE_RATE)
        if rate is not None:
            return float(rate)
        time.sleep(POLL_SECONDS / 4)
    return None

"""Bookkeeping of the study across runs: finished trials, ranking, and the staged tuning schedule.

A study is shared by resumed runs and by other workers, so what a run decides from it (how many
trials are left, which prompts to tune) is read from, or stored in, the study itself.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from promptsearch.study._codec import Attr, StudyAttr, TrialRecord
from promptsearch.study._publish import publish_once
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    import optuna

__all__ = ["best_distinct_trials", "choose_tuning_bases", "count_done", "discrete_pending", "ranking_key"]

_logger = logging.getLogger(__name__)


def count_done(study: optuna.Study, attr: str, value: Any) -> int:
    """Finished, not failed, trials whose user attribute ``attr`` is ``value`` (for resumes)."""
    import optuna

    return sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get(attr) == value
        and t.state.is_finished()
        and t.state != optuna.trial.TrialState.FAIL
    )


def ranking_key(study: optuna.Study) -> Callable[[optuna.trial.FrozenTrial], tuple[bool, float, int]]:
    """Sort key of completed trials, best first: fully scored before pruned, then by value
    in the study's direction, then by trial number."""
    import optuna

    sign = 1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0
    return lambda t: (Attr.PRUNED_AT in t.user_attrs, sign * float(t.value or 0.0), t.number)


def best_distinct_trials(
    study: optuna.Study,
    key: Callable[[optuna.trial.FrozenTrial], str],
    *,
    where: Callable[[optuna.trial.FrozenTrial], bool] = lambda t: True,
) -> list[optuna.trial.FrozenTrial]:
    """Completed trials, best first, one per ``key``; trials stopped by the pruner come last.

    A pruned trial's value is the mean of the dev examples it scored before it was stopped,
    which is not comparable with a full-dev mean, so every fully scored trial ranks above it.
    """
    import optuna

    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.value is not None and where(t)
    ]
    trials.sort(key=ranking_key(study))
    out: dict[str, optuna.trial.FrozenTrial] = {}
    for t in trials:
        out.setdefault(key(t), t)
    return list(out.values())


def discrete_pending(study: optuna.Study, per_generation: Sequence[int]) -> tuple[list[int], int]:
    """Generations still short of their trials, and discrete trials still running.

    Stale trials of a killed worker are failed first (with heartbeats), so they do not count
    as running.
    """
    import optuna

    with warnings.catch_warnings():  # experimental in Optuna, stable since 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    short = [g for g, n in enumerate(per_generation) if count_done(study, Attr.GENERATION, g) < n]
    running = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if t.user_attrs.get(Attr.STAGE) != Attr.STAGE_TUNING
    ]
    return short, len(running)


def choose_tuning_bases(study: optuna.Study, top: int) -> list[int]:
    """The trial numbers of the ``top`` best distinct discrete prompts, stored in the study once.

    Later calls (a resumed run, another worker) return the stored list, so all of them tune
    the same prompts. Empty when no discrete trial completed.
    """
    if StudyAttr.TUNING_BASES not in study.user_attrs:
        ranked = best_distinct_trials(
            study,
            key=lambda t: str(TrialRecord.of(t).prompt_id),
            where=lambda t: (
                TrialRecord.of(t).tuning_mode == NO_TUNING and TrialRecord.of(t).prompt_id is not None
            ),
        )
        if not ranked:
            return []
        publish_once(study, StudyAttr.TUNING_BASES, [t.number for t in ranked[:top]])
    return [int(b) for b in study.user_attrs[StudyAttr.TUNING_BASES]]

"""Schedules: how a search spends its trials. Each is one step the engine runs in order.

* :class:`DiscreteGenerations` splits the budget over evolution generations: generation 0
  samples the initial pool, each later one a pool evolved from the best candidates so far.
* :class:`TuningStageSchedule` (``tuning: {trials: N}``) then tunes the best discrete prompts.

Both count what the study already holds, so a resumed run (or another worker) only adds what
is missing, and no step finishes more trials than its budget (see :mod:`._workers`).
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from promptsearch.engine._pools import initial_pool, next_pool
from promptsearch.engine._prompts import choices_attrs, suggest_prompt
from promptsearch.engine._tuning import TuningChoice, suggest_tuning, tuned_trial
from promptsearch.engine._workers import await_twin, claim_slot, run_budget
from promptsearch.space import TuningStage
from promptsearch.study import Attr, Param, StudyAttr, choose_tuning_bases, discrete_pending, publish_once
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    import optuna

    from promptsearch.engine._context import SearchContext
    from promptsearch.generators import Candidate
    from promptsearch.space import SearchSpace

__all__ = ["DiscreteGenerations", "Schedule", "TuningStageSchedule", "schedules"]

_logger = logging.getLogger(__name__)


class Schedule(ABC):
    """One step of a search: runs the trials it is responsible for."""

    @abstractmethod
    def run(self, ctx: SearchContext) -> None:
        """Run (or resume) this step's trials in ``ctx.study``."""


class DiscreteGenerations(Schedule):
    """The budget's trials over evolution generations (template, label words, demos, calibration).

    In the joint tuning schedule each trial may also sample a tuning mode.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def per_generation(self, ctx: SearchContext) -> list[int]:
        """Trials of each generation: the budget split as evenly as possible."""
        generations = max(1, ctx.space.evolution.generations)
        return [
            self.budget // generations + (1 if g < self.budget % generations else 0)
            for g in range(generations)
        ]

    def run(self, ctx: SearchContext) -> None:
        per_gen = self.per_generation(ctx)
        pool = initial_pool(ctx.study, ctx.space, ctx.task)
        if not ctx.study.trials:
            _enqueue_baseline(ctx, pool)
        for g in range(len(per_gen)):
            if g > 0:
                pool = next_pool(ctx.study, ctx.space, g, backend=ctx.backend, seed=ctx.split.seed)
            if not pool:
                break
            if not run_budget(ctx, Attr.GENERATION, g, per_gen[g], self._objective(ctx, g, pool, per_gen[g])):
                break

    @staticmethod
    def _objective(ctx: SearchContext, generation: int, pool: Sequence[Candidate], budget: int) -> Any:
        staged = ctx.space.tuning.stage is not None  # Discrete trials first, tuning after.
        calibration = ctx.space.calibration_choices(ctx.task.kind.label_words)

        def objective(trial: optuna.Trial) -> float:
            claim_slot(trial, Attr.GENERATION, generation, budget)
            choices = suggest_prompt(
                trial,
                generation=generation,
                pool=pool,
                verbalizers=ctx.verbalizers,
                demos=ctx.space.demonstrations,
                calibration=calibration,
            )
            tuning = TuningChoice(NO_TUNING) if staged else suggest_tuning(trial, ctx.space.tuning)
            prompt = ctx.build(choices, tuned=tuning.mode != NO_TUNING)
            for key, value in choices_attrs(choices, prompt, generation).items():
                trial.set_user_attr(key, value)
            if tuning.mode == NO_TUNING:
                await_twin(trial, prompt.requests_id)
                return ctx.objective.run(trial, prompt, only=ctx.judged_on(prompt))
            return tuned_trial(ctx, trial, tuning, prompt)

        return objective


def _enqueue_baseline(ctx: SearchContext, pool: Sequence[Candidate]) -> None:
    """Make the first trial the first seed template with the first label words, zero-shot.

    As DSPy's MIPROv2 does: the pruner then compares every later trial with at least the
    hand-written baseline, so poor random starts stop after a few examples.
    """
    space = ctx.space
    seeds = [c for c in pool if c.origin == "seed"]
    token = uuid.uuid4().hex
    if not seeds or publish_once(ctx.study, StudyAttr.BASELINE, token) != token:
        return  # no seed template, or another worker enqueued it
    params: dict[str, Any] = {Param.template(0): seeds[0].id}
    if ctx.verbalizers:
        params[Param.VERBALIZER] = str(ctx.verbalizers[0])
        if False in space.calibration_choices():
            params[Param.CALIBRATE] = False
    if 0 in space.demonstrations.counts:
        params[Param.N_DEMOS] = 0
    tuning = space.tuning
    if tuning.tuned and NO_TUNING in tuning.choices and tuning.stage is None:
        params[Param.TUNING_MODE] = NO_TUNING
    ctx.study.enqueue_trial(params, user_attrs={Attr.GENERATION: 0})


class TuningStageSchedule(Schedule):
    """Staged schedule: tune the ``stage.top`` best discrete prompts in ``stage.trials`` trials.

    The base trials are fixed once, in the study's attributes, so that a resumed run or
    another worker tunes the same prompts; they are chosen only once the discrete search is
    complete. Trials stopped by the pruner rank after every fully scored one.
    """

    def __init__(self, stage: TuningStage, discrete: DiscreteGenerations) -> None:
        self.stage = stage
        self.discrete = discrete

    def run(self, ctx: SearchContext) -> None:
        per_gen = self.discrete.per_generation(ctx)
        if StudyAttr.TUNING_BASES not in ctx.study.user_attrs:
            short, running = discrete_pending(ctx.study, per_gen)
            if short or running:
                # Bases chosen now could miss better prompts still to come (or being scored by
                # another worker); running the same command again finishes the search and tunes.
                _logger.warning(
                    "Discrete search not finished (generations %s short of their trials, %d trial(s) "
                    "running): the tuning stage waits for a run that completes it.",
                    short,
                    running,
                )
                return
        bases = choose_tuning_bases(ctx.study, self.stage.top)
        if not bases:
            _logger.warning("No completed discrete trial to tune; the tuning stage is skipped.")
            return
        trials = ctx.study.get_trials(deepcopy=False)
        generation = len(per_gen)
        budget = self.stage.trials

        def objective(trial: optuna.Trial) -> float:
            claim_slot(trial, Attr.STAGE, Attr.STAGE_TUNING, budget)
            base = trials[int(trial.suggest_categorical(Param.TUNING_BASE, bases))]
            prompt = ctx.rebuild(base, for_tuning=True)
            for key in Attr.PROMPT:
                if key in base.user_attrs:
                    trial.set_user_attr(key, base.user_attrs[key])
            trial.set_user_attr(Attr.GENERATION, generation)
            trial.set_user_attr(Attr.STAGE, Attr.STAGE_TUNING)
            return tuned_trial(ctx, trial, suggest_tuning(trial, ctx.space.tuning, stage=True), prompt)

        run_budget(ctx, Attr.STAGE, Attr.STAGE_TUNING, budget, objective)


def schedules(space: SearchSpace, budget: int) -> list[Schedule]:
    """The steps of a search with this space and trial budget, in order."""
    discrete = DiscreteGenerations(budget)
    out: list[Schedule] = [discrete]
    stage = space.tuning.stage
    if stage is not None:
        out.append(TuningStageSchedule(stage, discrete))
    return out

"""Everything the steps of a search share, passed as one record instead of ten arguments."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import PromptSearchError
from promptsearch.study import Param, TrialRecord, stop_requested
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    import optuna

    from promptsearch.backends import LMBackend
    from promptsearch.engine._objective import DevObjective
    from promptsearch.engine._prompts import PromptChoices
    from promptsearch.space import SearchSpace
    from promptsearch.tasks import Example, FewShotSplit, Task
    from promptsearch.templates import Prompt, Verbalizer

__all__ = ["Callback", "SearchContext"]

Callback = Callable[["optuna.Study", "optuna.trial.FrozenTrial"], None]


@dataclass(frozen=True)
class SearchContext:
    """One search's inputs and the services its steps share.

    The fields are fixed for the run (the dataclass is frozen: no step rebinds one), but several
    are live objects that change as the search goes: the study, the cache, the counters
    (``phases``, ``tuned_forward_passes``) and the events (``stop``, ``halt``). Methods build
    prompts and the backends of tuned trials from them.

    Attributes:
        space: The search space (final settings already applied).
        task: The task; ``split``: its few-shot split (inputs cut to ``max_words``).
        backend: The model every untuned trial runs on.
        study: The Optuna study (shared by resumed runs and other workers).
        objective: Scores prompts on dev for the study.
        verbalizers: The study's label-word candidates (empty without label words).
        embedder: Sentence encoder of similar demonstrations.
        cache: Score and text cache.
        tuned_dir: Where tuned weights are unpacked on this machine.
        artifacts: The Optuna artifact store holding tuned trials' weights.
        callbacks: Optuna callbacks (e.g. a progress bar).
        started: ``time.perf_counter()`` at the start of the search.
        deadline: ``started + budget.timeout_s`` (``None``: no time limit).
        batch_size: Batch size for tuned backends.
        pool: Every labelled example (train and dev) when prompts are compared on all of them,
            demonstrations drawn from it leave-one-out; ``None``: compared on dev.
        fitted: The label words (``str(verbalizer)``) fitted to the training examples: a prompt
            using them is judged on dev only (see :meth:`judged_on`).
        phases: Seconds spent per phase of this run (model load, label words, trials, final).
        tuned_forward_passes: Examples scored by tuned trials' own backends (the study's
            backend counts the rest).
        stop: Set to stop after the current trial and raise (a signal).
        halt: Set when a callback called ``study.stop()``: the remaining steps are skipped and
            the leaderboard is made from the trials so far.
    """

    space: SearchSpace
    task: Task
    split: FewShotSplit
    backend: LMBackend
    study: optuna.Study
    objective: DevObjective
    verbalizers: tuple[Verbalizer, ...]
    embedder: str
    cache: Any
    tuned_dir: Path
    artifacts: Any
    callbacks: tuple[Callback, ...] = ()
    started: float = 0.0
    deadline: float | None = None
    batch_size: int | None = None
    pool: tuple[Example, ...] | None = None
    fitted: frozenset[str] = frozenset()
    phases: dict[str, float] = field(default_factory=dict, compare=False)
    tuned_forward_passes: list[int] = field(default_factory=lambda: [0], compare=False)
    stop: threading.Event = field(default_factory=threading.Event, compare=False)
    halt: threading.Event = field(default_factory=threading.Event, compare=False)

    def stopping(self) -> bool:
        """Whether the steps should end: a stop was requested, or a callback stopped the study."""
        return self.stop.is_set() or self.halt.is_set()

    def time_left(self) -> float | None:
        """Seconds left before the deadline (``None``: no limit; may be 0)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.perf_counter())

    def optimize(self, objective: Callable[..., float], n_trials: int) -> None:
        """Run trials; a trial failing with a PromptSearchError is recorded and the study goes on."""
        self.study.optimize(
            objective,
            n_trials=n_trials,
            callbacks=[*self.callbacks, self._watch_stop],
            catch=(PromptSearchError,),
        )

    def _watch_stop(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if stop_requested(study):  # a callback called study.stop()
            self.halt.set()

    def rebuild(self, trial: optuna.trial.FrozenTrial, *, for_tuning: bool | None = None) -> Prompt:
        """The prompt a finished trial scored, from its parameters and attributes.

        ``for_tuning``: build it as a tuned trial would use it (demonstrations from train
        only); default: as ``trial`` itself used it.
        """
        from promptsearch.engine._prompts import choices_of

        tuned = TrialRecord.of(trial).tuning_mode != NO_TUNING if for_tuning is None else for_tuning
        base = trial
        if Param.TUNING_BASE in trial.params:  # A trial of the tuning stage: its base's prompt.
            base = self.study.trials[int(trial.params[Param.TUNING_BASE])]
            tuned = True if for_tuning is None else for_tuning
        return self.build(choices_of(TrialRecord.of(base), self.verbalizers), tuned=tuned)

    def build(self, choices: PromptChoices, *, tuned: bool = False) -> Prompt:
        """The prompt of ``choices``: demonstrations from every labelled example, leave-one-out,
        when prompts are compared on all of them; from train for tuned trials (trained on
        train, scored on dev) and when prompts are compared on dev."""
        from promptsearch.engine._prompts import build_prompt

        return build_prompt(
            choices,
            self.task,
            self.split.train,
            split_seed=self.split.seed,
            embedder=self.embedder,
            pool=None if tuned else self.pool,
            prior=self.split.shares,
        )

    @property
    def selection_examples(self) -> tuple[Example, ...]:
        """The examples prompts are compared on (train and dev, or dev)."""
        return tuple(self.objective.dev)

    def judged_on(self, prompt: Prompt, *, tuned: bool = False) -> frozenset[str] | None:
        """Ids of the selection examples ``prompt`` may be judged on (``None``: all of them).

        Nothing fitted to examples is judged on the examples it was fitted to: tuned weights
        (``tuned``: trained on train) and label words found on the training examples (the
        prompt's or an ensemble member's) are judged on the dev examples only.
        """
        if tuned:
            return self.dev_ids
        if self.pool is None or not self.fitted:
            return None
        members: tuple[Prompt, ...] = getattr(prompt, "members", ()) or (prompt,)
        if any(m.verbalizer is not None and str(m.verbalizer) in self.fitted for m in members):
            return self.dev_ids
        return None

    @property
    def dev_ids(self) -> frozenset[str]:
        """Ids of the dev examples: the ones tuned trials are scored on."""
        return frozenset(e.id for e in self.split.dev)

    def tuned_backend(self, trial: optuna.trial.FrozenTrial) -> LMBackend | None:
        """The backend a finished tuned trial used (``None``: the study's own)."""
        from promptsearch.tuning import load_tuned_scorer

        record = TrialRecord.of(trial)
        folder = self.tuned_folder(trial)
        if folder is None:
            return None
        loaded = getattr(self.backend, "loaded", None)
        if loaded is None:
            raise PromptSearchError(
                f"Trial {trial.number} was tuned ({record.tuning_mode}); its weights load only on a "
                f"trainable backend, and {self.backend.name!r} is not one."
            )
        return load_tuned_scorer(loaded, record.tuning_mode, folder, batch_size=self.batch_size)

    def tuned_folder(self, trial: optuna.trial.FrozenTrial) -> Path | None:
        """The local folder of a tuned trial's weights (downloaded from the store once)."""
        from promptsearch.engine._artifacts import fetch_tuned

        record = TrialRecord.of(trial)
        if record.tuning_mode == NO_TUNING:
            return None
        if record.tuning_artifact is not None:
            return fetch_tuned(self.artifacts, record.tuning_artifact, self.tuned_dir)
        return Path(record.tuning_path) if record.tuning_path else None  # studies made before artifacts

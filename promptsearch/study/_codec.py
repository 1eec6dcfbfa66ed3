"""The trial codec: every key promptsearch reads or writes in an Optuna study, named once.

Trial parameters (what the sampler chooses), trial user attributes (what a trial scored and
how) and study user attributes (what every worker must agree on: pools, label words, tuning
bases, the leaderboard) are spelled here and nowhere else; :class:`TrialRecord` decodes a
finished trial into typed fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptsearch.generators._candidate import Candidate
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    import optuna

__all__ = [
    "Attr",
    "Param",
    "StudyAttr",
    "TrialRecord",
    "candidate_attrs",
    "candidate_from_attrs",
    "is_pruned",
    "is_scored",
]


class Param:
    """Names of trial parameters (sampled by Optuna)."""

    VERBALIZER = "verbalizer"
    N_DEMOS = "n_demos"
    DEMO_SELECTION = "demo_selection"
    DEMO_ORDER = "demo_order"
    DEMO_SEED = "demo_seed"
    CALIBRATE = "calibrate"
    TUNING_MODE = "tuning_mode"
    TUNING_BASE = "tuning_base"

    @staticmethod
    def template(generation: int) -> str:
        """The template parameter of a generation (its pool's choices are fixed for the study)."""
        return f"template_g{generation}"


class Attr:
    """Names of trial user attributes."""

    GENERATION = "generation"
    STAGE = "stage"
    CANDIDATE_ID = "candidate_id"
    PROMPT_ID = "prompt_id"
    REQUESTS_ID = "requests_id"
    ORIGIN = "origin"
    PARENTS = "parents"
    INSTRUCTION = "instruction"
    TEMPLATE = "template"
    VERBALIZER_WORDS = "verbalizer_words"
    N_DEMOS_USED = "n_demos_used"
    SELECTION = "selection"
    TUNING_MODE = "tuning_mode"
    TUNING_PATH = "tuning_path"
    TUNING_ARTIFACT = "tuning_artifact"
    TRAIN_SECONDS = "train_seconds"
    SECONDS_PER_STEP = "seconds_per_step"
    PEAK_MEMORY_MB = "peak_memory_mb"
    TRAINING_STOPPED_AT = "training_stopped_at"
    PRUNED_AT = "pruned_at"
    N_EVALUATED = "n_evaluated"
    DEV_METRIC = "dev_metric"
    EVALUATIONS = "evaluations"
    WORKER = "worker"
    SURPLUS = "surplus"

    #: What describes a trial's prompt: a tuning-stage trial copies them from its base trial.
    PROMPT = (
        CANDIDATE_ID,
        PROMPT_ID,
        REQUESTS_ID,
        ORIGIN,
        PARENTS,
        INSTRUCTION,
        TEMPLATE,
        VERBALIZER_WORDS,
        N_DEMOS_USED,
        SELECTION,
    )
    STAGE_TUNING = "tuning"


class StudyAttr:
    """Names of study user attributes."""

    VERBALIZERS = "verbalizers"
    #: The label words fitted to training examples (automatic label words): never judged on them.
    FITTED_VERBALIZERS = "verbalizers_fitted"
    TUNING_BASES = "tuning_bases"
    #: Tuning mode -> its index: the mode's training curve is reported from step
    #: ``TRAIN_STEP_OFFSET * (1 + index)``. Stored, so that plugins imported in another order
    #: never move the steps of a study's existing trials.
    TUNING_OFFSETS = "tuning_step_offsets"
    LEADERBOARD = "leaderboard"
    SPACE = "space"
    #: What the study was made for (task content, space, model, metric, split): a resumed run must match.
    IDENTITY = "identity"
    TASK = "task"
    MODEL = "model"
    SEED = "seed"
    K = "k"
    METRIC = "metric"
    BASELINE = "baseline_enqueued"
    #: The worker that times the cost probe, and the rate it measured (examples per second).
    PROBE = "cost_probe"
    PROBE_RATE = "cost_probe_examples_per_second"

    @staticmethod
    def pool(generation: int) -> str:
        """The stored candidate pool of a generation."""
        return f"pool_g{generation}"

    @staticmethod
    def pool_generation(key: str) -> int | None:
        """The generation whose pool is stored under ``key`` (``None``: not a pool's key).

        >>> StudyAttr.pool_generation(StudyAttr.pool(3)), StudyAttr.pool_generation("space")
        (3, None)
        """
        head, _, tail = key.partition("pool_g")
        return int(tail) if not head and tail.isdigit() else None

    @staticmethod
    def finalizer(key: str) -> str:
        """Who finalizes the study in the state ``key`` (trials and final settings)."""
        return f"finalizer:{key}"


def candidate_attrs(candidate: Candidate) -> dict[str, Any]:
    """The user attributes that describe a trial's candidate."""
    return {
        Attr.CANDIDATE_ID: candidate.id,
        Attr.ORIGIN: candidate.origin,
        Attr.PARENTS: list(candidate.parents),
        Attr.INSTRUCTION: candidate.instruction,
        Attr.TEMPLATE: candidate.template,
    }


def candidate_from_attrs(attrs: Mapping[str, Any]) -> Candidate:
    """The candidate a trial scored, from its user attributes."""
    return Candidate(
        instruction=attrs[Attr.INSTRUCTION],
        template=attrs[Attr.TEMPLATE],
        origin=attrs.get(Attr.ORIGIN, "seed"),
        parents=tuple(attrs.get(Attr.PARENTS, ())),
        generation=int(attrs.get(Attr.GENERATION, 0)),
    )


def is_pruned(trial: optuna.trial.FrozenTrial) -> bool:
    """Stopped by a pruner: Optuna's ``PRUNED`` state, or a trial completed with the partial
    mean of the examples it reached (``pruned_at``: how this study's objective ends a pruned
    trial, so that its value still ranks it)."""
    return trial.state.name == "PRUNED" or Attr.PRUNED_AT in trial.user_attrs


def is_scored(trial: optuna.trial.FrozenTrial) -> bool:
    """Finished with a score: ``COMPLETE`` or ``PRUNED`` (not failed, not running)."""
    return trial.state.name in ("COMPLETE", "PRUNED")


@dataclass(frozen=True)
class TrialRecord:
    """A finished trial, decoded.

    Attributes:
        number: Optuna trial number.
        value: The objective (``None`` if the trial has none).
        params: The trial's parameters.
        prompt_id: Id of the prompt it scored (``None`` for trials that failed before).
        generation: Evolution generation.
        tuning_mode: ``"none"`` or the tuning mode it trained.
        tuning_path: Where its trained weights were saved.
        pruned: Stopped by the pruner (its value is a partial mean).
        evaluations: Example scorings it spent.
        stage: ``"tuning"`` for a trial of the staged tuning schedule.
    """

    number: int
    value: float | None
    params: Mapping[str, Any]
    attrs: Mapping[str, Any]

    @classmethod
    def of(cls, trial: optuna.trial.FrozenTrial) -> TrialRecord:
        return cls(trial.number, trial.value, trial.params, trial.user_attrs)

    @property
    def prompt_id(self) -> str | None:
        value = self.attrs.get(Attr.PROMPT_ID)
        return None if value is None else str(value)

    @property
    def generation(self) -> int:
        return int(self.attrs.get(Attr.GENERATION, 0))

    @property
    def tuning_mode(self) -> str:
        return str(self.attrs.get(Attr.TUNING_MODE, NO_TUNING))

    @property
    def tuning_path(self) -> str | None:
        value = self.attrs.get(Attr.TUNING_PATH)
        return None if value is None else str(value)

    @property
    def tuning_artifact(self) -> str | None:
        """Id of the trained weights in the study's artifact store."""
        value = self.attrs.get(Attr.TUNING_ARTIFACT)
        return None if value is None else str(value)

    @property
    def pruned(self) -> bool:
        return Attr.PRUNED_AT in self.attrs

    @property
    def evaluations(self) -> int:
        return int(self.attrs.get(Attr.EVALUATIONS, 0))

    @property
    def stage(self) -> str | None:
        value = self.attrs.get(Attr.STAGE)
        return None if value is None else str(value)

    @property
    def candidate(self) -> Candidate:
        return candidate_from_attrs(self.attrs)

    @property
    def verbalizer_words(self) -> dict[str, list[str]] | None:
        raw = self.attrs.get(Attr.VERBALIZER_WORDS)
        return None if raw is None else dict(json.loads(raw))

    @property
    def entry_key(self) -> str:
        """Leaderboard identity: the prompt, and for a tuned trial also its own trained weights."""
        pid = str(self.prompt_id)
        mode = self.tuning_mode
        return pid if mode == NO_TUNING else f"{pid}+{mode}#{self.number}"

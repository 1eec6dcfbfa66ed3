"""Tuning inside the study: a trial's tuning mode and hyperparameters, and the tuned trial itself."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.engine._artifacts import upload_tuned
from promptsearch.exceptions import ConfigError
from promptsearch.space import all_modes
from promptsearch.study import TRAIN_STEP_OFFSET, Attr, Param, StudyAttr
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    import optuna

    from promptsearch.engine._context import SearchContext
    from promptsearch.space import TuningSpace
    from promptsearch.templates import Prompt

__all__ = ["TuningChoice", "step_offset", "suggest_tuning", "tuned_trial"]


@dataclass(frozen=True)
class TuningChoice:
    """The tuning mode of a trial and its configuration (``None`` for ``none``)."""

    mode: str
    config: Any = None


def step_offset(study: optuna.Study, mode: str) -> int:
    """Where ``mode``'s training curve is reported in ``study`` (its own range of steps).

    The modes' indices are stored in the study (:attr:`StudyAttr.TUNING_OFFSETS`) the first time
    one is needed: the registration order then (which is what studies made before the indices
    were stored used); a mode first used later gets the next index. Importing plugins in another
    order never shifts the steps of existing trials.
    """
    raw = study.user_attrs.get(StudyAttr.TUNING_OFFSETS)
    stored: dict[str, int] = json.loads(raw) if raw else {}
    if mode not in stored:
        if not stored:
            stored = {m: i for i, m in enumerate(all_modes())}
        if mode not in stored:
            stored[mode] = max(stored.values(), default=-1) + 1
        study.set_user_attr(StudyAttr.TUNING_OFFSETS, json.dumps(stored, sort_keys=True))
    return TRAIN_STEP_OFFSET * (1 + stored[mode])


def _suggest(trial: optuna.Trial, name: str, kind: str | None, spec: Any) -> Any:
    if not isinstance(spec, (list, tuple)):
        return spec
    values = list(spec)
    if kind == "log" and len(values) == 2 and all(isinstance(v, (int, float)) for v in values):
        return trial.suggest_float(name, float(values[0]), float(values[1]), log=True)
    if kind == "int" and len(values) == 2 and all(isinstance(v, int) for v in values):
        return trial.suggest_int(name, values[0], values[1])
    return trial.suggest_categorical(name, values)


def suggest_tuning(trial: optuna.Trial, tuning: TuningSpace, *, stage: bool = False) -> TuningChoice:
    """Sample the tuning mode and its hyperparameters (nothing when the space has no tuning).

    With ``stage`` (a trial of the staged schedule) the mode ``none`` is never chosen.
    """
    from promptsearch.tuning import tuning_modes

    modes = tuning.tuned if stage else tuning.choices
    if modes == (NO_TUNING,):
        return TuningChoice(NO_TUNING)
    mode = str(trial.suggest_categorical(Param.TUNING_MODE, list(modes)))
    if mode == NO_TUNING:
        return TuningChoice(NO_TUNING)
    entry = tuning_modes.get(mode)
    ranges = entry.ranges()
    settings = {
        key: _suggest(trial, f"{entry.param_prefix}_{key}", ranges.get(key), spec)
        for key, spec in tuning.settings_of(mode).items()
    }
    return TuningChoice(mode, entry.config(**settings))


def tuned_trial(ctx: SearchContext, trial: optuna.Trial, tuning: TuningChoice, prompt: Prompt) -> float:
    """Train with the trial's tuning mode, reporting the training curve, then score on dev."""
    from promptsearch.tuning import tuning_modes

    loaded = getattr(ctx.backend, "loaded", None)
    if loaded is None or not ctx.backend.capabilities.trainable:
        raise ConfigError(
            f"Tuning mode {tuning.mode!r} trains the model's embeddings or weights, which the "
            f"{ctx.backend.name!r} backend does not expose; use the hf backend or remove `tuning`."
        )

    offset = step_offset(trial.study, tuning.mode)

    def report(step: int, accuracy: float) -> bool:
        trial.report(accuracy, offset + step)
        if trial.should_prune():
            trial.set_user_attr(Attr.TRAINING_STOPPED_AT, step)
            return True
        return False

    split = ctx.split
    extra: dict[str, Any] = {}
    if prompt.template.generation:  # early-stopped on the study's metric, generated as the study does
        o = ctx.objective
        extra = {"task": o.task, "metric": o.metric.name, "generation": o.generation}
    result = tuning_modes.get(tuning.mode).train(
        loaded, prompt, split.train, split.dev, tuning.config, report=report, **extra
    )
    with tempfile.TemporaryDirectory(prefix=f"trial-{trial.number}-") as tmp:
        result.save(Path(tmp))
        upload_tuned(ctx.artifacts, trial, Path(tmp))  # other workers find it in the store
    trial.set_user_attr(Attr.TUNING_MODE, tuning.mode)
    trial.set_user_attr(Attr.TRAIN_SECONDS, float(result.seconds))
    trial.set_user_attr(Attr.SECONDS_PER_STEP, float(result.seconds_per_step))
    trial.set_user_attr(Attr.PEAK_MEMORY_MB, float(result.peak_memory_mb))
    tuned = result.backend(loaded, batch_size=ctx.batch_size)
    try:
        return ctx.objective.run(trial, prompt, backend=tuned, only=ctx.judged_on(prompt, tuned=True))
    finally:
        ctx.tuned_forward_passes[0] += tuned.stats.instances

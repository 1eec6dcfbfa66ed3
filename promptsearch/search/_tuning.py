"""Soft prompts and prompt-based tuning inside the study: their hyperparameters are trial parameters.

The space's ``tuning`` section lists the modes the study may choose (``none``,
``prompt_tuning``, ``bbt``, ``lora``, ``full``) and, per mode, the values or ranges of its
hyperparameters. Keys follow one rule: ``lr`` and ``sigma`` with two numbers are log-uniform
ranges; ``steps``, ``epochs`` and ``iterations`` with two integers are integer ranges; every
other list is a categorical choice; a scalar is fixed. Training curves are reported to the
pruner at steps offset per mode, where a median rule stops hopeless runs; the dev scoring that
follows is pruned by the study's own pruner, as for every trial.

Two schedules share the study:

* joint (default): every trial samples ``tuning_mode`` next to template, label words and
  demonstrations, so any prompt may be tuned;
* staged (``trials: N``): the budget's trials search discrete prompts only, then ``N`` more
  trials each tune one of the ``top`` best discrete prompts (parameter ``tuning_base``, a trial
  number) with a mode other than ``none`` and sampled hyperparameters. Training is the costly
  part, so it is spent on prompts that already work, as LM-BFF fine-tunes its best template.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ConfigError

if TYPE_CHECKING:
    import optuna

    from promptsearch.models import LoadedModel
    from promptsearch.scoring import BaseScorer

__all__ = [
    "MODES",
    "RoutedPruner",
    "SavedTuning",
    "TuningChoice",
    "TuningStage",
    "load_tuned_scorer",
    "suggest_tuning",
    "tuning_stage",
]

_logger = logging.getLogger(__name__)

MODES = ("none", "prompt_tuning", "bbt", "lora", "full")
_LOG_RANGES = {"lr", "sigma"}
_INT_RANGES = {"steps", "epochs", "iterations"}
_PREFIX = {"prompt_tuning": "pt", "bbt": "bbt", "lora": "lora", "full": "ft"}
#: Training curves are reported at ``TRAIN_STEP_OFFSET * (1 + mode index) + step``.
TRAIN_STEP_OFFSET = 1_000_000
_STAGE_KEYS = ("trials", "top")  # Keys of a staged schedule, next to ``modes``.


@dataclass(frozen=True)
class TuningStage:
    """The staged schedule: ``trials`` tuning trials on the ``top`` best discrete prompts."""

    trials: int
    top: int = 3


@dataclass(frozen=True)
class TuningChoice:
    """The tuning mode of a trial and its configuration (``None`` for ``none``)."""

    mode: str
    config: Any = None

    @property
    def step_offset(self) -> int:
        return TRAIN_STEP_OFFSET * (1 + MODES.index(self.mode))


def _suggest(trial: optuna.Trial, name: str, key: str, spec: Any) -> Any:
    if not isinstance(spec, (list, tuple)):
        return spec
    values = list(spec)
    if key in _LOG_RANGES and len(values) == 2 and all(isinstance(v, (int, float)) for v in values):
        return trial.suggest_float(name, float(values[0]), float(values[1]), log=True)
    if key in _INT_RANGES and len(values) == 2 and all(isinstance(v, int) for v in values):
        return trial.suggest_int(name, values[0], values[1])
    return trial.suggest_categorical(name, values)


def check_tuning_space(tuning: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Validate the ``tuning`` section; return its modes (``("none",)`` when absent)."""
    if not tuning:
        return ("none",)
    modes = tuple(tuning.get("modes", ("none",)))
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ConfigError(f"tuning.modes has unknown mode(s) {unknown}; choose from {list(MODES)}.")
    extra = [k for k in tuning if k != "modes" and k not in MODES and k not in _STAGE_KEYS]
    if extra:
        raise ConfigError(
            f"tuning has unknown key(s) {extra}; use 'modes', 'trials', 'top' and one section per "
            f"mode {MODES[1:]}."
        )
    for key in _STAGE_KEYS:
        value = tuning.get(key)
        if key in tuning and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"tuning.{key} must be a whole number of at least 1, got {value!r}.")
    if "top" in tuning and "trials" not in tuning:
        raise ConfigError("tuning.top only applies to a staged schedule; set tuning.trials too.")
    if "trials" in tuning and all(m == "none" for m in modes):
        raise ConfigError(
            "tuning.trials adds tuning trials, but tuning.modes has no tuning mode; add one of "
            f"{list(MODES[1:])}."
        )
    from promptsearch.tuning import default_config

    for mode in modes:
        if mode == "none":
            continue
        for key in dict(tuning.get(mode) or {}):
            try:
                default_config(mode, **{key: _first(tuning[mode][key])})
            except TypeError:
                raise ConfigError(f"tuning.{mode}.{key} is not a setting of the {mode} tuner.") from None
    return modes


def _first(spec: Any) -> Any:
    return spec[0] if isinstance(spec, (list, tuple)) and spec else spec


def tuning_stage(tuning: Mapping[str, Any] | None) -> TuningStage | None:
    """The staged schedule of a ``tuning`` section, ``None`` for the joint one."""
    if not tuning or "trials" not in tuning:
        return None
    check_tuning_space(tuning)
    return TuningStage(int(tuning["trials"]), int(tuning.get("top", TuningStage.top)))


def suggest_tuning(
    trial: optuna.Trial, tuning: Mapping[str, Any] | None, *, stage: bool = False
) -> TuningChoice:
    """Sample the tuning mode and its hyperparameters (nothing when the space has no tuning).

    With ``stage`` (a trial of the staged schedule) the mode ``none`` is never chosen.
    """
    modes = check_tuning_space(tuning)
    if stage:
        modes = tuple(m for m in modes if m != "none")
    if modes == ("none",):
        return TuningChoice("none")
    mode = str(trial.suggest_categorical("tuning_mode", list(modes)))
    if mode == "none":
        return TuningChoice("none")
    from promptsearch.tuning import default_config

    assert tuning is not None
    settings = {
        key: _suggest(trial, f"{_PREFIX[mode]}_{key}", key, spec)
        for key, spec in dict(tuning.get(mode) or {}).items()
    }
    return TuningChoice(mode, default_config(mode, **settings))


class SavedTuning:
    """A tuning artifact already saved in a folder (for :func:`promptsearch.export.save_prompt`)."""

    def __init__(self, mode: str, path: str | Path) -> None:
        self.mode = mode
        self.path = Path(path)

    def save(self, folder: str | Path) -> Path:
        target = Path(folder)
        shutil.copytree(self.path, target, dirs_exist_ok=True)
        return target


def load_tuned_scorer(
    model: LoadedModel, mode: str, folder: str | Path, batch_size: int | None = None
) -> BaseScorer:
    """The scorer of a saved tuning artifact: soft prompts or a fine-tuned model."""
    from promptsearch.scoring import make_scorer
    from promptsearch.tuning import load_finetuned, load_soft_prompt

    if mode in ("prompt_tuning", "bbt"):
        return load_soft_prompt(model, folder, batch_size=batch_size)
    if mode in ("lora", "full"):
        return make_scorer(load_finetuned(model, folder), batch_size=batch_size)
    raise ConfigError(f"Unknown tuning mode {mode!r}; choose from {list(MODES)}.")


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
        import copy

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

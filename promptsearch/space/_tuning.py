"""The ``tuning`` section of a search space: soft prompts and prompt-based tuning in the study.

It lists the modes the study may choose (``none`` plus every mode registered in
:data:`promptsearch.tuning.tuning_modes`) and, per mode, the values or ranges of its
hyperparameters. A list of two numbers for a field marked ``range: log`` or ``range: int`` in
the mode's configuration class is a range; every other list is a categorical choice; a scalar
is fixed.

Two schedules share the study:

* joint (default): every trial samples ``tuning_mode`` next to template, label words and
  demonstrations, so any prompt may be tuned;
* staged (``trials: N``): the budget's trials search discrete prompts only, then ``N`` more
  trials each tune one of the ``top`` best discrete prompts. Training is the costly part, so it
  is spent on prompts that already work, as LM-BFF fine-tunes its best template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptsearch.exceptions import ConfigError
from promptsearch.tuning import NO_TUNING

__all__ = [
    "TuningStage",
    "all_modes",
    "check_trainable",
    "check_tuning_space",
    "check_tuning_task",
    "tuning_stage",
]

_STAGE_KEYS = ("trials", "top")  # Keys of a staged schedule, next to ``modes``.


@dataclass(frozen=True)
class TuningStage:
    """The staged schedule: ``trials`` tuning trials on the ``top`` best discrete prompts."""

    trials: int
    top: int = 3


def all_modes() -> tuple[str, ...]:
    """``none`` and every registered tuning mode, in registration order."""
    from promptsearch.tuning import tuning_modes

    return (NO_TUNING, *tuning_modes.registered())


def check_tuning_space(tuning: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Validate the ``tuning`` section; return its modes (``("none",)`` when absent)."""
    if not tuning:
        return (NO_TUNING,)
    from promptsearch.tuning import tuning_modes

    known = all_modes()
    modes = tuple(tuning.get("modes", (NO_TUNING,)))
    unknown = [m for m in modes if m not in known]
    if unknown:
        raise ConfigError(f"tuning.modes has unknown mode(s) {unknown}; choose from {list(known)}.")
    extra = [k for k in tuning if k != "modes" and k not in known and k not in _STAGE_KEYS]
    if extra:
        raise ConfigError(
            f"tuning has unknown key(s) {extra}; use 'modes', 'trials', 'top' and one section per "
            f"mode {known[1:]}."
        )
    for key in _STAGE_KEYS:
        value = tuning.get(key)
        if key in tuning and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"tuning.{key} must be a whole number of at least 1, got {value!r}.")
    if "top" in tuning and "trials" not in tuning:
        raise ConfigError("tuning.top only applies to a staged schedule; set tuning.trials too.")
    if "trials" in tuning and all(m == NO_TUNING for m in modes):
        raise ConfigError(
            "tuning.trials adds tuning trials, but tuning.modes has no tuning mode; add one of "
            f"{list(known[1:])}."
        )
    for mode in modes:
        if mode == NO_TUNING:
            continue
        for key in dict(tuning.get(mode) or {}):
            try:
                tuning_modes.get(mode).config(**{key: _first(tuning[mode][key])})
            except ConfigError:
                raise ConfigError(f"tuning.{mode}.{key} is not a setting of the {mode} tuner.") from None
    return modes


def check_tuning_task(tuning: Mapping[str, Any] | None, task_type: str) -> None:
    """Raise :class:`ConfigError` when a mode of the ``tuning`` section cannot tune this task type.

    Each mode lists the prediction kinds it tunes (``TuningMode.outputs``): prompt tuning, LoRA
    and full fine-tuning tune classification and generation prompts; BBT classification only;
    multiple-choice prompts are not tuned yet.
    """
    from promptsearch.tasks import task_types
    from promptsearch.tuning import tuning_modes

    output = task_types.get(task_type).output
    modes = [m for m in check_tuning_space(tuning) if m != NO_TUNING]
    unfit = [m for m in modes if output not in tuning_modes.get(m).outputs]
    if not unfit:
        return
    able = [m for m in tuning_modes.registered() if output in tuning_modes.get(m).outputs]
    hint = f"use {' or '.join(able)}" if able else "no tuning mode tunes them yet: remove the tuning section"
    raise ConfigError(
        f"tuning: {', '.join(unfit)} cannot tune the prompts of a {task_type} task ({output!r} predictions); "
        f"{hint}."
    )


def _first(spec: Any) -> Any:
    return spec[0] if isinstance(spec, (list, tuple)) and spec else spec


def tuning_stage(tuning: Mapping[str, Any] | None) -> TuningStage | None:
    """The staged schedule of a ``tuning`` section, ``None`` for the joint one."""
    if not tuning or "trials" not in tuning:
        return None
    check_tuning_space(tuning)
    return TuningStage(int(tuning["trials"]), int(tuning.get("top", TuningStage.top)))


def check_trainable(tuning: Mapping[str, Any] | None, backend: Any) -> None:
    """Raise :class:`ConfigError` at once when the ``tuning`` section asks for a tuning mode and
    the backend does not expose weights to train (a served model, a fake one)."""
    modes = [m for m in check_tuning_space(tuning) if m != NO_TUNING] if tuning else []
    if modes and not backend.capabilities.trainable:
        raise ConfigError(
            f"tuning: {', '.join(modes)} train the model's embeddings or weights, which the "
            f"{type(backend).registry_name or type(backend).__name__!r} backend does not expose "
            f"(model {backend.name!r}); use the hf backend, or remove the tuning section."
        )

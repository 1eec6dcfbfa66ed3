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
from dataclasses import dataclass, field
from typing import Any, ClassVar

from promptsearch.exceptions import ConfigError
from promptsearch.space._validate import FrozenMapping, Section, freeze, thaw, type_error
from promptsearch.tuning import NO_TUNING

__all__ = ["TuningSpace", "TuningStage", "all_modes"]

_STAGE_KEYS = ("trials", "top")  # Keys of a staged schedule, next to ``modes``.


@dataclass(frozen=True)
class TuningStage:
    """The staged schedule: ``trials`` tuning trials on the ``top`` best discrete prompts."""

    trials: int
    top: int = 3


def all_modes() -> tuple[str, ...]:
    """Every registered tuning mode, ``none`` (the untuned prompt) first, in registration order."""
    from promptsearch.tuning import tuning_modes

    return tuple(tuning_modes.registered())


@dataclass(frozen=True)
class TuningSpace(Section):
    """The ``tuning`` section, parsed and checked once.

    In YAML the modes' settings sit beside ``modes``: ``tuning: {modes: [none, lora], trials: 8,
    lora: {rank: [4, 8]}}``; here they are :attr:`settings`. An empty section (the default)
    tunes nothing and is written as ``null``.
    """

    _section: ClassVar[str | None] = "tuning"

    modes: tuple[str, ...] | None = field(
        default=None,
        metadata={"help": "Modes the study may choose: none (the untuned prompt) and registered modes."},
    )
    trials: int | None = field(
        default=None, metadata={"help": "Staged schedule: tuning trials after the discrete ones."}
    )
    top: int | None = field(
        default=None, metadata={"help": "Staged schedule: how many of the best discrete prompts are tuned."}
    )
    settings: Mapping[str, Mapping[str, Any]] = field(
        default_factory=FrozenMapping,
        metadata={"help": "Mode -> its hyperparameters' values (a list: choices; [low, high]: a range)."},
    )

    def __post_init__(self) -> None:
        from promptsearch.tuning import tuning_modes

        self._normalize()
        known = all_modes()
        unknown = [m for m in self.choices if m not in known]
        if unknown:
            raise self._fail("modes", f"unknown mode(s) {unknown}; choose from {list(known)}.")
        for key in _STAGE_KEYS:
            value = getattr(self, key)
            if value is not None and value < 1:
                raise self._fail(key, f"must be a whole number of at least 1, got {value!r}.")
        if self.top is not None and self.trials is None:
            raise self._fail("top", "only applies to a staged schedule; set tuning.trials too.")
        if self.trials is not None and not self.tuned:
            raise self._fail(
                "trials",
                f"adds tuning trials, but tuning.modes has no tuning mode; add one of {list(known[1:])}.",
            )
        for mode, options in self.settings.items():
            if mode not in known or mode == NO_TUNING:
                raise ConfigError(
                    f"tuning.{mode}: unknown key; use 'modes', 'trials', 'top' and one section per mode "
                    f"{known[1:]}."
                )
            for key, spec in options.items():
                try:
                    tuning_modes.get(mode).config(**{key: _first(spec)})
                except ConfigError:
                    raise ConfigError(f"tuning.{mode}.{key} is not a setting of the {mode} tuner.") from None

    @property
    def choices(self) -> tuple[str, ...]:
        """The modes the study may choose (``("none",)`` when the section names none)."""
        return self.modes if self.modes is not None else (NO_TUNING,)

    @property
    def tuned(self) -> tuple[str, ...]:
        """The modes that train something (every choice but ``none``)."""
        return tuple(m for m in self.choices if m != NO_TUNING)

    @property
    def stage(self) -> TuningStage | None:
        """The staged schedule, ``None`` for the joint one."""
        if self.trials is None:
            return None
        return TuningStage(self.trials, TuningStage.top if self.top is None else self.top)

    def settings_of(self, mode: str) -> Mapping[str, Any]:
        """The values or ranges given for ``mode``'s hyperparameters (``{}``: its defaults)."""
        return self.settings.get(mode) or FrozenMapping()

    def check_task(self, task_type: str) -> None:
        """Raise :class:`ConfigError` when a mode cannot tune this task type's prompts.

        Each mode lists the prediction kinds it tunes (``TuningMode.outputs``): prompt tuning,
        LoRA and full fine-tuning tune classification and generation prompts; BBT classification
        only; multiple-choice prompts are not tuned yet.
        """
        from promptsearch.tasks import task_types
        from promptsearch.tuning import tuning_modes

        output = task_types.get(task_type).output
        unfit = [m for m in self.tuned if output not in tuning_modes.get(m).outputs]
        if not unfit:
            return
        able = [m for m in all_modes()[1:] if output in tuning_modes.get(m).outputs]
        hint = f"use {' or '.join(able)}" if able else "no tuning mode tunes them yet: remove the section"
        raise ConfigError(
            f"tuning: {', '.join(unfit)} cannot tune the prompts of a {task_type} task ({output!r} "
            f"predictions); {hint}."
        )

    def check_backend(self, backend: Any) -> None:
        """Raise :class:`ConfigError` when a mode is searched and the backend does not expose
        weights to train (a served model, a fake one)."""
        if self.tuned and not backend.capabilities.trainable:
            raise ConfigError(
                f"tuning: {', '.join(self.tuned)} train the model's embeddings or weights, which the "
                f"{type(backend).registry_name or type(backend).__name__!r} backend does not expose "
                f"(model {backend.name!r}); use the hf backend, or remove the tuning section."
            )

    def _to_value(self) -> Any:
        """As written in YAML: ``modes``, the stage keys and one section per mode (``None`` when
        the section is empty)."""
        value: dict[str, Any] = {}
        if self.modes is not None:
            value["modes"] = list(self.modes)
        for key in _STAGE_KEYS:
            if getattr(self, key) is not None:
                value[key] = getattr(self, key)
        value.update({mode: thaw(options) for mode, options in self.settings.items()})
        return value or None

    def to_dict(self) -> dict[str, Any]:
        """The section as written in YAML (``{}`` when empty)."""
        return dict(self._to_value() or {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TuningSpace:
        """Build from the YAML layout (``None``: no tuning)."""
        return cls._from_value(data, "tuning")

    @classmethod
    def _from_value(cls, value: Any, path: str) -> TuningSpace:
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise type_error(path, Mapping[str, Any] | None, value)
        fields = {k: value[k] for k in ("modes", *_STAGE_KEYS) if k in value}
        for key in _STAGE_KEYS:
            number = fields.get(key)
            if key in fields and (isinstance(number, bool) or not isinstance(number, int)):
                raise ConfigError(f"{path}.{key}: must be a whole number of at least 1, got {number!r}.")
        settings = {}
        for key, options in value.items():
            if key in fields:
                continue
            options = {} if options is None else options
            if not isinstance(options, Mapping):
                raise type_error(f"{path}.{key}", Mapping[str, Any], options)
            settings[str(key)] = freeze(options)
        return cls(**fields, settings=settings)


def _first(spec: Any) -> Any:
    return spec[0] if isinstance(spec, (list, tuple)) and spec else spec

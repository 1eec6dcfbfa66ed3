"""Tuning modes by name: each is registered once, with its configuration class, its trainer and
the loader of what it saved.

The search space (``tuning.modes``), the study (trial parameters), export and reload all read
:data:`tuning_modes`; adding a mode is one module that calls :func:`register_tuning_mode`.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch._registry import Registry
from promptsearch.exceptions import ConfigError, ModelError

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend
    from promptsearch.models import LoadedModel

__all__ = [
    "NO_TUNING",
    "SavedTuning",
    "TuningMode",
    "load_tuned_scorer",
    "register_tuning_mode",
    "tuning_modes",
]

#: The tuning "mode" of a plain text prompt (nothing trained): the one spelling of it.
NO_TUNING = "none"

#: ``loader(model, folder, batch_size) -> backend`` scoring with the saved weights.
Loader = Callable[["LoadedModel", Path, "int | None"], "LMBackend"]


@dataclass(frozen=True)
class TuningMode:
    """A way to train what a prompt runs with (soft prompts, adapters, weights).

    Attributes:
        name: Registry name (``tuning.modes`` in a search space, ``tuning_mode`` in a study).
        config_class: Frozen dataclass of its hyperparameters (``to_dict``/``from_dict``);
            field ``metadata["range"]`` (``"log"``, ``"int"``) says how ranges are searched.
        trainer: ``"module:function"`` (imported on first use) or the function
            ``(model, prompt, train, dev, config, *, report) -> result``; the result has
            ``save(folder)``, ``backend(model, batch_size=...)`` (the backend that scores with
            it) and the :class:`~promptsearch.tuning.TrainingStats` fields.
        loader: ``"module:function"`` or ``(model, folder, batch_size) -> backend`` that scores
            with weights saved by the result.
        param_prefix: Prefix of its trial parameters (``pt`` gives ``pt_lr``).
        soft: It trains soft-token embeddings (prompts with ``{soft:N}`` need it to export).
        defaults: Configuration values that differ from the class defaults for this mode.
        outputs: Prediction kinds of the prompts it can tune: ``label`` (classification) and,
            for trainers that take ``task=``, ``metric=`` and ``generation=`` keywords,
            ``text`` (generation). A search space checks its task against them.
    """

    name: str
    config_class: type
    trainer: str | Callable[..., Any]
    loader: str | Loader
    param_prefix: str
    soft: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    outputs: frozenset[str] = frozenset({"label"})

    def config(self, **overrides: Any) -> Any:
        """The mode's configuration with ``overrides``; unknown keys raise :class:`ConfigError`."""
        names = {f.name for f in dataclasses.fields(self.config_class)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(
                f"{unknown} {'is not a setting' if len(unknown) == 1 else 'are not settings'} of the "
                f"{self.name} tuner; its settings are {sorted(names)}."
            )
        return self.config_class(**{**self.defaults, **overrides})

    def ranges(self) -> dict[str, str]:
        """Field name -> ``"log"`` or ``"int"`` for fields searched as ranges."""
        return {
            f.name: str(f.metadata["range"])
            for f in dataclasses.fields(self.config_class)
            if "range" in f.metadata
        }

    def train(self, *args: Any, **kwargs: Any) -> Any:
        """Run the trainer (see :attr:`trainer`)."""
        return self._resolve(self.trainer)(*args, **kwargs)

    def load(self, model: LoadedModel, folder: str | Path, batch_size: int | None = None) -> LMBackend:
        """The backend scoring with the weights saved in ``folder``."""
        backend: LMBackend = self._resolve(self.loader)(model, Path(folder), batch_size)
        return backend

    def _resolve(self, target: str | Callable[..., Any]) -> Callable[..., Any]:
        if callable(target):
            return target
        import importlib

        module, _, attr = target.partition(":")
        try:
            function: Callable[..., Any] = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ModelError(
                f"This prompt was tuned with mode {self.name!r}, whose code ({target}) cannot be imported: "
                f"{exc}. Tuned prompts need peft (pip install 'promptsearch[peft]') and the plugin that "
                "registered the mode."
            ) from exc
        return function


#: Mode name -> :class:`TuningMode`; ``none`` (the untuned prompt) is registered first.
tuning_modes: Registry[TuningMode] = Registry("tuning mode")


def register_tuning_mode(mode: TuningMode) -> TuningMode:
    """Register ``mode`` under its name (the one place a mode is listed)."""
    tuning_modes.register(mode.name, mode)
    return mode


@dataclass(frozen=True)
class NoTuningConfig:
    """The configuration of ``none``: nothing to set."""

    def to_dict(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoTuningConfig:
        return cls()


def _train_nothing(*args: Any, **kwargs: Any) -> Any:
    raise ConfigError(
        f"Tuning mode {NO_TUNING!r} is the untuned prompt: there is nothing to train; choose a tuning "
        f"mode among {[m for m in tuning_modes.names() if m != NO_TUNING]}."
    )


def _load_plain(model: LoadedModel, folder: Path, batch_size: int | None) -> LMBackend:
    """The backend of an untuned prompt: the ordinary one for the model's kind."""
    from promptsearch.backends import hf_backend

    return hf_backend(model, batch_size=batch_size)


register_tuning_mode(
    TuningMode(
        NO_TUNING,
        NoTuningConfig,
        trainer=_train_nothing,
        loader=_load_plain,
        param_prefix=NO_TUNING,
        outputs=frozenset(),  # not consulted: the untuned prompt fits every task
    )
)


def load_tuned_scorer(
    model: LoadedModel, mode: str, folder: str | Path, batch_size: int | None = None
) -> LMBackend:
    """The backend of a saved tuning artifact: soft prompts or a fine-tuned model."""
    return tuning_modes.get(mode).load(model, folder, batch_size)


class SavedTuning:
    """A tuning artifact already saved in a folder (for :func:`promptsearch.export.save_prompt`)."""

    def __init__(self, mode: str, path: str | Path) -> None:
        self.mode = mode
        self.path = Path(path)

    def save(self, folder: str | Path) -> Path:
        target = Path(folder)
        shutil.copytree(self.path, target, dirs_exist_ok=True)
        return target

    def __repr__(self) -> str:
        return f"SavedTuning({self.mode!r}, {str(self.path)!r})"

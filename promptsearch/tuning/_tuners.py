"""Tuners by name, with one signature: ``tuner(model, prompt, train, dev, config=None, *, report=None)``.

The modes themselves are registered in :data:`promptsearch.tuning.tuning_modes`; :data:`tuners`
is a read-only view of their trainers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from promptsearch.tasks._records import Example
from promptsearch.templates._prompt import Prompt
from promptsearch.tuning._common import ReportCallback
from promptsearch.tuning._modes import NO_TUNING, tuning_modes

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel

__all__ = ["Tuner", "default_config", "tuners"]


class Tuner(Protocol):
    """What every trainer of a tuning mode is.

    Trainers of modes that tune generation prompts (``"text"`` in ``TuningMode.outputs``) also
    take the keywords ``task``, ``metric`` and ``generation`` (see
    :func:`~promptsearch.tuning.train_soft_prompt`).
    """

    def __call__(
        self,
        model: LoadedModel,
        prompt: Prompt,
        train: Sequence[Example],
        dev: Sequence[Example],
        config: Any = None,
        *,
        report: ReportCallback | None = None,
    ) -> Any: ...


class _Trainers:
    """Mode name -> trainer function, read from :data:`tuning_modes`."""

    def names(self) -> list[str]:
        return [n for n in tuning_modes.names() if n != NO_TUNING]

    def get(self, name: str) -> Tuner:
        mode = tuning_modes.get(name)
        trainer: Tuner = mode.train
        return trainer

    def __contains__(self, name: object) -> bool:
        return name != NO_TUNING and name in tuning_modes


#: ``"prompt_tuning"``, ``"bbt"``, ``"lora"``, ``"full"`` (and plugins) -> trainer.
tuners = _Trainers()


def default_config(name: str, **overrides: Any) -> Any:
    """The default configuration of the tuning mode ``name``, with ``overrides`` applied.

    Example:
        >>> default_config("lora", rank=4).rank
        4
    """
    return tuning_modes.get(name).config(**overrides)

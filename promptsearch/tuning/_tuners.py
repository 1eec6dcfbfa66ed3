"""Tuners by name, with one signature: ``tuner(model, prompt, train, dev, config=None, *, report=None)``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from promptsearch._registry import Registry
from promptsearch.exceptions import ConfigError
from promptsearch.tasks._records import Example
from promptsearch.templates._prompt import Prompt
from promptsearch.tuning._common import ReportCallback
from promptsearch.tuning._config import BBTConfig, FinetuneConfig, SoftPromptConfig

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel
    from promptsearch.tuning._finetune_result import FinetuneResult

__all__ = ["Tuner", "default_config", "tuners"]


class Tuner(Protocol):
    """What every entry of :data:`tuners` is."""

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


def _finetune_mode(
    mode: str,
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: FinetuneConfig | None,
    report: ReportCallback | None,
) -> FinetuneResult:
    from promptsearch.tuning._finetune import finetune

    if config is None:
        config = FinetuneConfig(mode=mode)
    elif config.mode != mode:
        raise ConfigError(
            f"The {mode!r} tuner got FinetuneConfig(mode={config.mode!r}); use the {config.mode!r} tuner."
        )
    return finetune(model, prompt, train, dev, config, report=report)


def finetune_lora(
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: FinetuneConfig | None = None,
    *,
    report: ReportCallback | None = None,
) -> FinetuneResult:
    """:func:`finetune` with LoRA adapters."""
    return _finetune_mode("lora", model, prompt, train, dev, config, report)


def finetune_full(
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: FinetuneConfig | None = None,
    *,
    report: ReportCallback | None = None,
) -> FinetuneResult:
    """:func:`finetune` of all weights."""
    return _finetune_mode("full", model, prompt, train, dev, config, report)


#: ``"prompt_tuning"``, ``"bbt"``, ``"lora"``, ``"full"`` -> tuner (imported on first use).
tuners: Registry[Tuner] = Registry("tuner")
tuners.register("prompt_tuning", "promptsearch.tuning._prompt_tuning:train_soft_prompt")
tuners.register("bbt", "promptsearch.tuning._bbt:train_bbt")
tuners.register("lora", "promptsearch.tuning._tuners:finetune_lora")
tuners.register("full", "promptsearch.tuning._tuners:finetune_full")


def default_config(name: str, **overrides: Any) -> SoftPromptConfig | BBTConfig | FinetuneConfig:
    """The default configuration of the tuner ``name``, with ``overrides`` applied.

    Example:
        >>> default_config("lora", rank=4).rank
        4
    """
    tuners.get(name)  # unknown names: "did you mean" error
    if name == "prompt_tuning":
        return SoftPromptConfig(**overrides)
    if name == "bbt":
        return BBTConfig(**overrides)
    return dataclasses.replace(FinetuneConfig(mode=name), **overrides)

"""Soft prompts and prompt-based tuning: prompt tuning, black-box tuning, LoRA and full fine-tuning.

Every tuner takes ``(model, prompt, train, dev, config=None, *, report=None)``; ``report(step,
dev_value)`` returning True stops a run (the hook for an Optuna pruner). Classification prompts
are trained on their label words and judged by dev accuracy. Generation prompts (prompt
tuning, LoRA and full fine-tuning; ``TuningMode.outputs``) are trained with the LM loss of the
reference answers and judged by the task's metric on generated dev answers; those tuners also
take ``task=``, ``metric=`` and ``generation=``. Each mode is registered once in
:data:`tuning_modes`, with its configuration class and the loader of what it saves. Importing
this package does not import torch, PEFT or cmaes: they are imported when a tuner runs.

Example:
    >>> from promptsearch.tuning import SoftPromptConfig, train_soft_prompt
    >>> config = SoftPromptConfig(steps=30)
    >>> result = train_soft_prompt(lm, prompt, split.train, split.dev, config)  # doctest: +SKIP
    >>> result.save("soft-prompt")  # doctest: +SKIP
    >>> scorer = load_soft_prompt(lm, "soft-prompt")  # doctest: +SKIP
"""

# Each mode's module registers it in ``tuning_modes``: prompt tuning, BBT, then LoRA and full
# fine-tuning (this order fixes the step offsets of their training curves in a study).
# isort: off
from promptsearch.tuning._prompt_tuning import train_soft_prompt
from promptsearch.tuning._bbt import projection, train_bbt
from promptsearch.tuning._finetune import finetune, finetune_full, finetune_lora

# isort: on
from promptsearch.tuning._common import ReportCallback, TrainingStats
from promptsearch.tuning._config import BBTConfig, FinetuneConfig, SoftInit, SoftPromptConfig
from promptsearch.tuning._finetune_result import FinetuneResult, load_finetuned
from promptsearch.tuning._modes import (
    NO_TUNING,
    SavedTuning,
    TuningMode,
    load_tuned_scorer,
    register_tuning_mode,
    tuning_modes,
)
from promptsearch.tuning._predict import load_for_prediction
from promptsearch.tuning._scorer import SoftPromptScorer
from promptsearch.tuning._soft_result import SoftPromptResult, load_soft_prompt
from promptsearch.tuning._tuners import Tuner, default_config, tuners

__all__ = [
    "NO_TUNING",
    "BBTConfig",
    "FinetuneConfig",
    "FinetuneResult",
    "ReportCallback",
    "SavedTuning",
    "SoftInit",
    "SoftPromptConfig",
    "SoftPromptResult",
    "SoftPromptScorer",
    "TrainingStats",
    "Tuner",
    "TuningMode",
    "default_config",
    "finetune",
    "finetune_full",
    "finetune_lora",
    "load_finetuned",
    "load_for_prediction",
    "load_soft_prompt",
    "load_tuned_scorer",
    "projection",
    "register_tuning_mode",
    "train_bbt",
    "train_soft_prompt",
    "tuners",
    "tuning_modes",
]

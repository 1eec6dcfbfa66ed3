"""promptsearch: find good prompts automatically.

Generate candidate prompts (templates, label words, demonstrations, soft prompts), score them
on a few-shot dev set with a local language model, and let Optuna choose them jointly.

Example:
    >>> import promptsearch
    >>> result = promptsearch.evaluate("movies", limit=50)  # doctest: +SKIP

Heavy dependencies (torch, transformers, optuna) are imported on first use, so
``import promptsearch`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from promptsearch._version import __version__
from promptsearch.exceptions import (
    ConfigError,
    DataError,
    FetchError,
    ModelError,
    PromptSearchError,
    SearchInterrupted,
    ServerError,
    StudyMismatchError,
    TemplateError,
    UnknownNameError,
    VerbalizerError,
)

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend, load_backend
    from promptsearch.evaluation import EvaluationResult, evaluate
    from promptsearch.export import PromptPredictor, load_prompt, save_prompt
    from promptsearch.models import LoadedModel, load_model
    from promptsearch.scoring import make_scorer, score_prompt
    from promptsearch.search import PromptSearch, SearchSpace, load_search_space
    from promptsearch.tasks import Example, FewShotSplit, Task, few_shot_split, load_task
    from promptsearch.templates import Prompt, Template, Verbalizer

_LAZY = {
    "evaluate": "promptsearch.evaluation",
    "LMBackend": "promptsearch.backends",
    "load_backend": "promptsearch.backends",
    "EvaluationResult": "promptsearch.evaluation",
    "load_model": "promptsearch.models",
    "LoadedModel": "promptsearch.models",
    "load_prompt": "promptsearch.export",
    "save_prompt": "promptsearch.export",
    "PromptPredictor": "promptsearch.export",
    "PromptSearch": "promptsearch.search",
    "SearchSpace": "promptsearch.search",
    "load_search_space": "promptsearch.search",
    "make_scorer": "promptsearch.scoring",
    "score_prompt": "promptsearch.scoring",
    "Example": "promptsearch.tasks",
    "Task": "promptsearch.tasks",
    "FewShotSplit": "promptsearch.tasks",
    "few_shot_split": "promptsearch.tasks",
    "load_task": "promptsearch.tasks",
    "Prompt": "promptsearch.templates",
    "Template": "promptsearch.templates",
    "Verbalizer": "promptsearch.templates",
}

__all__ = [
    "ConfigError",
    "DataError",
    "EvaluationResult",
    "Example",
    "FetchError",
    "FewShotSplit",
    "LMBackend",
    "LoadedModel",
    "ModelError",
    "Prompt",
    "PromptPredictor",
    "PromptSearch",
    "PromptSearchError",
    "SearchInterrupted",
    "SearchSpace",
    "ServerError",
    "StudyMismatchError",
    "Task",
    "Template",
    "TemplateError",
    "UnknownNameError",
    "Verbalizer",
    "VerbalizerError",
    "__version__",
    "evaluate",
    "few_shot_split",
    "load_backend",
    "load_model",
    "load_prompt",
    "load_search_space",
    "load_task",
    "make_scorer",
    "save_prompt",
    "score_prompt",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'promptsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""The search engine: a thin :class:`PromptSearch` over schedule steps, the dev objective, the
candidate pools, tuning inside the study, and the final evaluation.
"""

from promptsearch.engine._context import Callback, SearchContext
from promptsearch.engine._finalize import finalize
from promptsearch.engine._objective import TIE_BREAK, DevObjective
from promptsearch.engine._pools import fitted_verbalizers, initial_pool, load_pool, next_pool, verbalizer_pool
from promptsearch.engine._prompts import (
    PromptChoices,
    build_prompt,
    choices_attrs,
    choices_of,
    suggest_prompt,
)
from promptsearch.engine._schedule import DiscreteGenerations, Schedule, TuningStageSchedule, schedules
from promptsearch.engine._search import PromptSearch
from promptsearch.engine._setup import (
    RunSetup,
    SpaceOverrides,
    check_embedder,
    load_run_backend,
    make_split,
    resolve_task,
    run_cache,
    run_storage,
    setup_run,
)
from promptsearch.engine._study import open_study, warn_if_space_changed
from promptsearch.engine._tuning import TuningChoice, suggest_tuning, tuned_trial

__all__ = [
    "TIE_BREAK",
    "Callback",
    "DevObjective",
    "DiscreteGenerations",
    "PromptChoices",
    "PromptSearch",
    "RunSetup",
    "Schedule",
    "SearchContext",
    "SpaceOverrides",
    "TuningChoice",
    "TuningStageSchedule",
    "build_prompt",
    "check_embedder",
    "choices_attrs",
    "choices_of",
    "finalize",
    "fitted_verbalizers",
    "initial_pool",
    "load_pool",
    "load_run_backend",
    "make_split",
    "next_pool",
    "open_study",
    "resolve_task",
    "run_cache",
    "run_storage",
    "schedules",
    "setup_run",
    "suggest_prompt",
    "suggest_tuning",
    "tuned_trial",
    "verbalizer_pool",
    "warn_if_space_changed",
]

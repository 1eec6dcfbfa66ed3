"""The study layer: Optuna storages, samplers and pruners by name, the trial codec, score caches
and the bookkeeping every worker of a study agrees on.
"""

from promptsearch.study._bookkeeping import (
    best_distinct_trials,
    choose_tuning_bases,
    count_done,
    discrete_pending,
    ranking_key,
)
from promptsearch.study._cache import MemoryScoreCache, SQLiteScoreCache
from promptsearch.study._codec import (
    Attr,
    Param,
    StudyAttr,
    TrialRecord,
    candidate_attrs,
    candidate_from_attrs,
    is_pruned,
    is_scored,
)
from promptsearch.study._optuna import OPTIMIZE_LOGGER, fail_running_trial, stop_requested
from promptsearch.study._pruners import (
    DEFAULT_PRUNER,
    TRAIN_STEP_OFFSET,
    PrunerEntry,
    RoutedPruner,
    make_pruner,
    make_routed_pruner,
    make_sign_test_pruner,
    pruners,
    register_pruner,
    sign_test_p_value,
)
from promptsearch.study._publish import publish_once, worker_id
from promptsearch.study._samplers import DEFAULT_SAMPLER, make_sampler, register_sampler, samplers
from promptsearch.study._sql_cache import SQLScoreCache, cache_for_storage
from promptsearch.study._storage import check_storage, is_storage_url, make_storage, mask_url, open_storage

__all__ = [
    "DEFAULT_PRUNER",
    "DEFAULT_SAMPLER",
    "OPTIMIZE_LOGGER",
    "TRAIN_STEP_OFFSET",
    "Attr",
    "MemoryScoreCache",
    "Param",
    "PrunerEntry",
    "RoutedPruner",
    "SQLScoreCache",
    "SQLiteScoreCache",
    "StudyAttr",
    "TrialRecord",
    "best_distinct_trials",
    "cache_for_storage",
    "candidate_attrs",
    "candidate_from_attrs",
    "check_storage",
    "choose_tuning_bases",
    "count_done",
    "discrete_pending",
    "fail_running_trial",
    "is_pruned",
    "is_scored",
    "is_storage_url",
    "make_pruner",
    "make_routed_pruner",
    "make_sampler",
    "make_sign_test_pruner",
    "make_storage",
    "mask_url",
    "open_storage",
    "pruners",
    "publish_once",
    "ranking_key",
    "register_pruner",
    "register_sampler",
    "samplers",
    "sign_test_p_value",
    "stop_requested",
    "worker_id",
]

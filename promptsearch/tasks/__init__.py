"""Tasks: loading data, task types, a catalog of packaged corpora, and few-shot splits.

Example:
    >>> from promptsearch.tasks import load_task, few_shot_split
    >>> task = load_task("movies")  # doctest: +SKIP
    >>> split = few_shot_split(task, k=16, seed=13)  # doctest: +SKIP
"""

from promptsearch.tasks._catalog import CatalogEntry, fetch_task, list_catalog
from promptsearch.tasks._kinds import TaskType, register_task_type, task_types
from promptsearch.tasks._load import load_task
from promptsearch.tasks._loaders import file_readers, load_file, load_hf_dataset, register_file_reader
from promptsearch.tasks._records import Example, FewShotSplit, Task
from promptsearch.tasks._splits import LMBFF_SEEDS, SPLIT_STRATEGIES, data_split, few_shot_split
from promptsearch.tasks._types import Classification, Generation, MultipleChoice

__all__ = [
    "LMBFF_SEEDS",
    "SPLIT_STRATEGIES",
    "CatalogEntry",
    "Classification",
    "Example",
    "FewShotSplit",
    "Generation",
    "MultipleChoice",
    "Task",
    "TaskType",
    "data_split",
    "fetch_task",
    "few_shot_split",
    "file_readers",
    "list_catalog",
    "load_file",
    "load_hf_dataset",
    "load_task",
    "register_file_reader",
    "register_task_type",
    "task_types",
]

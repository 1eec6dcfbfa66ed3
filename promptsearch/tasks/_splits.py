"""Few-shot splits following LM-BFF (Gao et al., 2021).

A fixed test set is carved out first, independently of the seed: examples are ordered by the
sha256 of their id and the first ``test_size`` form the test set. From the remaining pool,
for each class (or, for task types without classes, from the whole pool), ``2k`` examples are
drawn with ``numpy.random.default_rng(seed)`` (the pool sorted by id): the first ``k`` go to
train, the next ``k`` to dev. Everything depends only on example ids and the seed, so splits
are identical on every machine and run.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from promptsearch.exceptions import DataError
from promptsearch.tasks._records import Example, FewShotSplit, Task

__all__ = ["LMBFF_SEEDS", "default_test_size", "few_shot_split", "fixed_test_set"]

LMBFF_SEEDS: tuple[int, ...] = (13, 21, 42, 87, 100)
"""The five data seeds of LM-BFF."""


def default_test_size(task: Task) -> int:
    """Return ``task.test_size`` if set, else ``min(1000, len(task.examples) // 4)``."""
    if task.test_size is not None:
        return task.test_size
    return min(1000, len(task.examples) // 4)


def _order_key(example: Example) -> tuple[str, str]:
    return hashlib.sha256(example.id.encode("utf-8")).hexdigest(), example.id


def fixed_test_set(
    task: Task, test_size: int | None = None
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """Return ``(test, pool)``: the fixed test set and the remaining examples, both sorted.

    The test set depends only on example ids and ``test_size``, never on a seed.
    """
    size = default_test_size(task) if test_size is None else test_size
    n = len(task.examples)
    if size < 0 or size >= n:
        raise DataError(
            f"test_size={size} does not fit task {task.name!r} with {n} examples; "
            "use 0 <= test_size < number of examples."
        )
    dupes = [i for i, c in Counter(ex.id for ex in task.examples).items() if c > 1]
    if dupes:
        raise DataError(
            f"Task {task.name!r} has {len(dupes)} duplicate example ids (e.g. {dupes[0]!r}); "
            "remove duplicates so that test and train stay disjoint."
        )
    ordered = sorted(task.examples, key=_order_key)
    test = tuple(ordered[:size])
    pool = tuple(sorted(ordered[size:], key=lambda ex: ex.id))
    return test, pool


def few_shot_split(task: Task, *, k: int = 16, seed: int = 13, test_size: int | None = None) -> FewShotSplit:
    """Make an LM-BFF few-shot split: ``k`` train and ``k`` dev examples per class.

    Task types without classes (multiple choice, generation) get ``k`` train and ``k`` dev
    examples in all.

    Args:
        task: The task to split.
        k: Examples per class in train, and again in dev.
        seed: Data seed; any integer >= 0 (0 included). See :data:`LMBFF_SEEDS`.
        test_size: Size of the fixed test set; defaults to ``task.test_size`` or
            ``min(1000, len(examples) // 4)``.

    Returns:
        The split; ``test`` is the same for every seed and disjoint from every train and dev.

    Raises:
        DataError: If a class (or the pool) has fewer than ``2k`` examples outside the test
            set, or the arguments do not fit the task.

    Example:
        >>> from promptsearch.tasks import Example, Task
        >>> exs = [Example.create({"text": f"t{i}"}, "ab"[i % 2]) for i in range(40)]
        >>> split = few_shot_split(Task("toy", ("text",), ("a", "b"), tuple(exs)), k=4, seed=0)
        >>> len(split.train), len(split.dev), len(split.test)
        (8, 8, 10)
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DataError(f"k must be a positive integer, got {k!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be an integer >= 0, got {seed!r}.")
    test, pool = fixed_test_set(task, test_size)
    rng = np.random.default_rng(int(seed))
    train: list[Example] = []
    dev: list[Example] = []
    for name, members in task.kind.strata(task, pool):
        if len(members) < 2 * k:
            what = f"Class {name!r} of task {task.name!r}" if name != "all" else f"Task {task.name!r}"
            raise DataError(
                f"{what} has {len(members)} examples outside the test set, "
                f"but k={k} needs {2 * k} (k for train, k for dev); lower k to at most {len(members) // 2}."
            )
        order = rng.permutation(len(members))[: 2 * k]
        train.extend(members[i] for i in order[:k])
        dev.extend(members[i] for i in order[k:])
    return FewShotSplit(task=task, k=k, seed=int(seed), train=tuple(train), dev=tuple(dev), test=test)

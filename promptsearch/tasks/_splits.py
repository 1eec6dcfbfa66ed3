"""Splits: LM-BFF's few-shot splits (Gao et al., 2021) and splits of a user's own data.

A fixed test set is carved out first, independently of the seed: examples are ordered by the
sha256 of their id and the first ``test_size`` form the test set. From the remaining pool,
for each class (or, for task types without classes, from the whole pool), examples are drawn
with ``numpy.random.default_rng(seed)`` (the pool sorted by id):

* :func:`few_shot_split` (``k_shot``): ``k`` go to train, the next ``k`` to dev, so both are
  balanced, whatever the data's balance;
* :func:`data_split` (``data``): ``k`` go to train, then a confirmation sample and a dev sample
  follow the data's own class shares (each class kept visible by a minimum count).

Either may keep a confirmation sample (``confirm``) that no fitting and no selection sees.
Everything depends only on example ids and the seed, so splits are identical on every machine
and run.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from promptsearch.exceptions import DataError
from promptsearch.tasks._records import Example, FewShotSplit, Task

__all__ = [
    "LMBFF_SEEDS",
    "SPLIT_STRATEGIES",
    "class_shares",
    "data_split",
    "default_test_size",
    "few_shot_split",
    "fixed_test_set",
    "stratified_counts",
]

#: How the examples prompts are compared on are drawn: ``k_shot`` (balanced, LM-BFF) or
#: ``data`` (the data's own class balance).
SPLIT_STRATEGIES: tuple[str, ...] = ("k_shot", "data")

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


def few_shot_split(
    task: Task, *, k: int = 16, seed: int = 13, test_size: int | None = None, confirm: int = 0
) -> FewShotSplit:
    """Make an LM-BFF few-shot split: ``k`` train and ``k`` dev examples per class.

    Task types without classes (multiple choice, generation) get ``k`` train and ``k`` dev
    examples in all.

    Args:
        task: The task to split.
        k: Examples per class in train, and again in dev.
        seed: Data seed; any integer >= 0 (0 included). See :data:`LMBFF_SEEDS`.
        test_size: Size of the fixed test set; defaults to ``task.test_size`` or
            ``min(1000, len(examples) // 4)``.
        confirm: Size of the confirmation sample, drawn at the data's class shares from the
            examples left over (0: none, the LM-BFF protocol).

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
    _check_args(k, seed)
    test, pool = fixed_test_set(task, test_size)
    rng = np.random.default_rng(int(seed))
    train: list[Example] = []
    dev: list[Example] = []
    rest: list[list[Example]] = []
    strata = task.kind.strata(task, pool)
    for name, members in strata:
        if len(members) < 2 * k:
            what = f"Class {name!r} of task {task.name!r}" if name != "all" else f"Task {task.name!r}"
            fix = (
                f"lower k to at most {len(members) // 2}"
                if len(members) >= 2
                else "add examples of it (or remove it from the data)"
            )
            raise DataError(
                f"{what} has {len(members)} examples outside the test set, "
                f"but k={k} needs {2 * k} (k for train, k for dev); {fix}."
            )
        order = rng.permutation(len(members))
        train.extend(members[i] for i in order[:k])
        dev.extend(members[i] for i in order[k : 2 * k])
        rest.append([members[i] for i in order[2 * k :]])
    counts = stratified_counts(min(max(0, confirm), sum(map(len, rest))), [len(r) for r in rest])
    kept = tuple(ex for r, n in zip(rest, counts) for ex in r[:n])
    return FewShotSplit(
        task=task,
        k=k,
        seed=int(seed),
        train=tuple(train),
        dev=tuple(dev),
        test=test,
        confirm=kept,
        strategy="k_shot",
        shares=class_shares(task, strata),
    )


def data_split(
    task: Task,
    *,
    k: int = 16,
    seed: int = 13,
    size: int = 400,
    min_per_class: int = 8,
    confirm: int = 200,
    test_size: int | None = None,
) -> FewShotSplit:
    """A split of a user's own data: prompts compared on a sample of the data's class balance.

    Per class (in the task's label order), ``k`` examples go to train (where label words are
    fitted and demonstrations drawn; at most a third of the class). From the rest, a
    confirmation sample of ``confirm`` examples and a dev sample of ``size`` examples are drawn
    at the data's class shares, each class with at least ``min_per_class`` examples where it
    has them; when fewer examples are left, confirmation gets a third of them and dev the rest.

    Example:
        >>> from promptsearch.tasks import Example, Task
        >>> exs = [Example.create({"text": f"t{i}"}, "a" if i % 5 else "b") for i in range(400)]
        >>> split = data_split(Task("toy", ("text",), ("a", "b"), tuple(exs)), k=4, size=100, confirm=50)
        >>> len(split.train), len(split.dev), len(split.confirm), len(split.test)
        (8, 100, 50, 100)
        >>> [round(s, 2) for s in split.shares], sum(e.label == "b" for e in split.dev)
        ([0.81, 0.19], 18)
    """
    _check_args(k, seed)
    for name, value in (("size", size), ("min_per_class", min_per_class), ("confirm", confirm)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DataError(f"{name} must be an integer >= 0, got {value!r}.")
    test, pool = fixed_test_set(task, test_size)
    rng = np.random.default_rng(int(seed))
    strata = task.kind.strata(task, pool)
    train: list[Example] = []
    rest: list[list[Example]] = []
    for name, members in strata:
        if len(members) < 2:
            what = f"Class {name!r} of task {task.name!r}" if name != "all" else f"Task {task.name!r}"
            raise DataError(
                f"{what} has {len(members)} examples outside the test set; a split of your data needs "
                "at least 2 per class (one to fit on, one to compare prompts on): add examples of it "
                "or remove it from the data."
            )
        order = rng.permutation(len(members))
        n_train = max(1, min(k, len(members) // 3))
        train.extend(members[i] for i in order[:n_train])
        rest.append([members[i] for i in order[n_train:]])
    left = sum(map(len, rest))
    n_confirm = min(confirm, left // 3)
    confirm_counts = stratified_counts(
        n_confirm, [len(r) for r in rest], min(min_per_class, 1 if n_confirm else 0)
    )
    kept = [r[:n] for r, n in zip(rest, confirm_counts)]
    rest = [r[n:] for r, n in zip(rest, confirm_counts)]
    dev_counts = stratified_counts(min(size, sum(map(len, rest))), [len(r) for r in rest], min_per_class)
    return FewShotSplit(
        task=task,
        k=k,
        seed=int(seed),
        train=tuple(train),
        dev=tuple(ex for r, n in zip(rest, dev_counts) for ex in r[:n]),
        test=test,
        confirm=tuple(ex for r in kept for ex in r),
        strategy="data",
        shares=class_shares(task, strata),
    )


def _check_args(k: object, seed: object) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DataError(f"k must be a positive integer, got {k!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be an integer >= 0, got {seed!r}.")


def class_shares(task: Task, strata: list[tuple[str, list[Example]]]) -> tuple[float, ...]:
    """Each class's share of the examples in ``strata`` (task label order; empty without classes)."""
    if not task.label_names:
        return ()
    sizes = dict((name, len(members)) for name, members in strata)
    total = sum(sizes.values())
    return tuple(sizes.get(label, 0) / total if total else 0.0 for label in task.label_names)


def stratified_counts(total: int, available: list[int], minimum: int = 0) -> list[int]:
    """How many examples to draw from each stratum: ``total`` in all, proportional to
    ``available`` (largest remainders), each stratum at least ``minimum`` where it has them
    (and where ``total`` allows as many for every stratum).

    The minimum is taken from the largest strata, so the sum stays ``total`` when it can.

    Example:
        >>> stratified_counts(10, [70, 20, 10]), stratified_counts(10, [97, 2, 1], minimum=2)
        ([7, 2, 1], [7, 2, 1])
    """
    n = sum(available)
    if total >= n:
        return list(available)
    exact = [total * a / n for a in available] if n else [0.0] * len(available)
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(available)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    floor = [min(minimum, a, total // max(1, len(available))) for a in available]
    counts = [max(c, f) for c, f in zip(counts, floor)]
    excess = sum(counts) - total
    while excess > 0:
        above = [i for i in range(len(counts)) if counts[i] > floor[i]]
        if not above:
            break
        i = max(above, key=lambda j: (counts[j] - floor[j], -j))
        counts[i] -= 1
        excess -= 1
    return counts

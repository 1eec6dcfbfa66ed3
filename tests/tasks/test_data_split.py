"""Splits of a user's own data: dev and confirmation at the data's class balance."""

from __future__ import annotations

from collections import Counter

import pytest

from promptsearch.exceptions import DataError
from promptsearch.tasks import Example, Task, data_split, few_shot_split
from promptsearch.tasks._splits import stratified_counts


def _task(counts: dict[str, int], test_size: int | None = None) -> Task:
    examples = [
        Example.create({"text": f"{label} {i}"}, label) for label, n in counts.items() for i in range(n)
    ]
    return Task("imbalanced", ("text",), tuple(counts), tuple(examples), test_size=test_size)


def _ids(examples: tuple[Example, ...]) -> set[str]:
    return {e.id for e in examples}


def test_dev_and_confirmation_follow_the_data_balance() -> None:
    task = _task({"a": 780, "b": 120, "c": 90, "d": 10}, test_size=200)
    split = data_split(task, k=4, seed=13, size=400, min_per_class=8, confirm=200)
    parts = (split.train, split.dev, split.confirm, split.test)
    assert sum(len(_ids(p)) for p in parts) == len(set().union(*map(_ids, parts)))  # disjoint
    assert len(split.dev) == 400 and len(split.confirm) == 200
    n_d = sum(e.label == "d" for e in task.examples) - sum(e.label == "d" for e in split.test)
    assert Counter(e.label for e in split.train) == {"a": 4, "b": 4, "c": 4, "d": n_d // 3}  # a third at most
    dev = Counter(e.label for e in split.dev)
    confirm_d = sum(e.label == "d" for e in split.confirm)
    assert confirm_d >= 1 and dev["d"] == n_d - n_d // 3 - confirm_d  # a rare class: all it has left
    assert dev["c"] >= 8  # every class visible
    assert dev["a"] / 400 == pytest.approx(0.78, abs=0.03)
    assert sum(split.shares) == pytest.approx(1.0) and split.shares[0] == pytest.approx(0.78, abs=0.01)
    assert split.strategy == "data"
    assert split.test == few_shot_split(task, k=4, seed=13).test  # the same fixed test set


def test_a_small_file_gives_a_third_of_the_rest_to_confirmation() -> None:
    task = _task({"a": 40, "b": 20}, test_size=15)
    split = data_split(task, k=16, seed=0, size=400, confirm=200)
    rest = 45 - len(split.train)
    assert len(split.confirm) == rest // 3 and len(split.dev) == rest - rest // 3


def test_data_split_is_deterministic_and_seeded() -> None:
    task = _task({"a": 300, "b": 60})
    one, two = data_split(task, seed=21), data_split(task, seed=21)
    assert one.dev == two.dev and one.confirm == two.confirm
    assert data_split(task, seed=42).dev != one.dev


def test_k_shot_keeps_lmbff_and_adds_a_confirmation_from_the_rest() -> None:
    task = _task({"a": 300, "b": 60})
    plain, confirmed = few_shot_split(task, k=8, seed=13), few_shot_split(task, k=8, seed=13, confirm=50)
    assert plain.train == confirmed.train and plain.dev == confirmed.dev and not plain.confirm
    assert len(confirmed.confirm) == 50
    assert not _ids(confirmed.confirm) & _ids((*confirmed.train, *confirmed.dev, *confirmed.test))
    shares = Counter(e.label for e in confirmed.confirm)
    assert shares["a"] > 3 * shares["b"]


def test_a_class_with_one_example_is_a_clear_error() -> None:
    task = _task({"a": 50, "b": 1}, test_size=5)
    with pytest.raises(DataError, match=r"Class 'b' .* at least 2 per class"):
        data_split(task)
    with pytest.raises(DataError, match="size must be an integer"):
        data_split(_task({"a": 50, "b": 50}), size=-1)


@pytest.mark.parametrize(
    ("total", "available", "minimum", "expected"),
    [
        (10, [70, 20, 10], 0, [7, 2, 1]),
        (10, [97, 2, 1], 2, [7, 2, 1]),
        (100, [10, 20], 0, [10, 20]),
        (6, [50, 50, 50], 3, [2, 2, 2]),
        (0, [5, 5], 1, [0, 0]),
    ],
)
def test_stratified_counts(total: int, available: list[int], minimum: int, expected: list[int]) -> None:
    counts = stratified_counts(total, available, minimum)
    assert counts == expected
    assert all(c <= a for c, a in zip(counts, available))

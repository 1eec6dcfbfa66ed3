"""Tests of the LM-BFF few-shot splits: determinism, disjointness, sizes and errors."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from promptsearch.exceptions import DataError
from promptsearch.tasks import LMBFF_SEEDS, Example, FewShotSplit, Task, few_shot_split


def _toy(n: int = 60, labels: tuple[str, ...] = ("a", "b", "c"), test_size: int | None = None) -> Task:
    examples = [Example.create({"text": f"example {i}"}, labels[i % len(labels)]) for i in range(n)]
    return Task("toy", ("text",), labels, tuple(examples), test_size=test_size)


def _texts(examples: tuple[Example, ...]) -> list[str]:
    return [ex.inputs["text"] for ex in examples]


def test_known_split_for_a_synthetic_task() -> None:
    # Golden values: any change to the protocol (ordering, rng use) must show up here.
    split = few_shot_split(_toy(), k=2, seed=13)
    assert _texts(split.train) == [
        "example 39",
        "example 12",
        "example 16",
        "example 58",
        "example 35",
        "example 26",
    ]
    assert _texts(split.dev) == [
        "example 42",
        "example 6",
        "example 7",
        "example 1",
        "example 47",
        "example 17",
    ]
    assert sorted(_texts(split.test)) == sorted(
        f"example {i}" for i in (0, 11, 14, 15, 19, 25, 27, 28, 31, 34, 4, 40, 51, 52, 53)
    )


def test_same_split_twice_and_in_a_fresh_process() -> None:
    task = _toy()
    first, second = few_shot_split(task, k=4, seed=42), few_shot_split(task, k=4, seed=42)
    assert first == second
    code = (
        "from promptsearch.tasks import Example, Task, few_shot_split\n"
        "exs = [Example.create({'text': f'example {i}'}, 'abc'[i % 3]) for i in range(60)]\n"
        "s = few_shot_split(Task('toy', ('text',), ('a', 'b', 'c'), tuple(exs)), k=4, seed=42)\n"
        "print(','.join(e.id for e in s.train + s.dev + s.test))\n"
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ",".join(ex.id for ex in first.train + first.dev + first.test)


def test_k_per_class_and_label_order() -> None:
    task = _toy(90)
    split = few_shot_split(task, k=5, seed=21)
    assert isinstance(split, FewShotSplit)
    for part in (split.train, split.dev):
        assert Counter(ex.label for ex in part) == {"a": 5, "b": 5, "c": 5}
        assert [ex.label for ex in part] == ["a"] * 5 + ["b"] * 5 + ["c"] * 5
    assert (split.k, split.seed, split.task) == (5, 21, task)


def test_test_set_is_fixed_and_disjoint_from_every_seed() -> None:
    task = _toy(200)
    splits = [few_shot_split(task, k=8, seed=s) for s in (0, *LMBFF_SEEDS)]
    test_ids = {ex.id for ex in splits[0].test}
    assert len(test_ids) == 50  # min(1000, 200 // 4)
    for split in splits:
        assert {ex.id for ex in split.test} == test_ids
        train_ids, dev_ids = {ex.id for ex in split.train}, {ex.id for ex in split.dev}
        assert len(train_ids) == len(dev_ids) == 24
        assert not train_ids & dev_ids
        assert not (train_ids | dev_ids) & test_ids


def test_seed_zero_is_a_real_seed_and_differs_from_13() -> None:
    task = _toy(200)
    zero, thirteen = few_shot_split(task, k=8, seed=0), few_shot_split(task, k=8, seed=13)
    assert zero.seed == 0
    assert _texts(zero.train) != _texts(thirteen.train)
    assert few_shot_split(task, k=8) == thirteen  # default seed is 13


def test_test_size_from_argument_and_from_task() -> None:
    assert len(few_shot_split(_toy(), k=2, test_size=6).test) == 6
    assert len(few_shot_split(_toy(test_size=9), k=2).test) == 9
    assert len(few_shot_split(_toy(test_size=9), k=2, test_size=0).test) == 0
    with pytest.raises(DataError, match="test_size=60"):
        few_shot_split(_toy(), k=2, test_size=60)


def test_too_few_examples_names_the_class() -> None:
    labels = ("a", "a", "a", "a", "b")  # "b" is rare: 12 of 60 examples
    examples = [Example.create({"text": f"x{i}"}, labels[i % 5]) for i in range(60)]
    task = Task("rare", ("text",), ("a", "b"), tuple(examples), test_size=0)
    few_shot_split(task, k=6)
    with pytest.raises(DataError, match=r"Class 'b' .* has 12 examples .* k=7 needs 14.* at most 6"):
        few_shot_split(task, k=7)


@pytest.mark.parametrize(("k", "seed"), [(0, 13), (2, -1), (2, 1.5), (True, 13)])
def test_bad_arguments(k: int, seed: int) -> None:
    with pytest.raises(DataError):
        few_shot_split(_toy(), k=k, seed=seed)


def test_duplicate_ids_are_refused() -> None:
    ex = Example.create({"text": "same"}, "a")
    task = Task("dup", ("text",), ("a",), (ex, ex, Example.create({"text": "other"}, "a")))
    with pytest.raises(DataError, match="duplicate example ids"):
        few_shot_split(task, k=1, test_size=0)


def test_shorten_cuts_words_after_the_split_is_drawn() -> None:
    examples = [
        Example.create({"text": f"story {i} with\nmany  words", "title": "t"}, "ab"[i % 2]) for i in range(40)
    ]
    task = Task("long", ("text", "title"), ("a", "b"), tuple(examples))
    split = few_shot_split(task, k=4, seed=13)
    short = split.shorten(3)
    assert split.shorten(None) is split
    for name in ("train", "dev", "test"):
        full, cut = split.get(name), short.get(name)
        assert [e.label for e in cut] == [e.label for e in full]  # same examples, same order
        assert all(c.inputs["text"].split() == f.inputs["text"].split()[:3] for f, c in zip(full, cut))
        assert all(c.id == f"{f.id}~w3" for f, c in zip(full, cut))  # never the full text's cache
        assert all(c.inputs["title"] == "t" for c in cut)
    assert short.dev[0].inputs["text"].endswith("with")
    unchanged = Example.create({"text": "two words"}, "a")
    assert unchanged.shorten(2) is unchanged
    with pytest.raises(DataError, match="at least 1"):
        split.shorten(0)

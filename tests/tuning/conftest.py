"""Toy data for the tuning tests: a separable sentiment task over single-token words."""

from __future__ import annotations

import random

import pytest

from promptsearch.tasks._records import Example
from promptsearch.templates import Prompt

POSITIVE = ("great", "love", "fun", "excellent", "wonderful", "lovely")
NEGATIVE = ("awful", "hate", "boring", "terrible", "dull", "horrible")
LABELS = ("neg", "pos")


def toy_examples(n: int, seed: int) -> list[Example]:
    """``n`` examples "the movie was <word>"; the word decides the label."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = LABELS[i % 2]
        word = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        filler = " ".join(rng.choice(("really", "very", "so", "quite")) for _ in range(rng.randint(0, 4)))
        out.append(Example.create({"text": f"the movie was {filler} {word}".replace("  ", " ")}, label))
    return out


@pytest.fixture(scope="session")
def toy_train() -> list[Example]:
    return toy_examples(12, seed=1)


@pytest.fixture(scope="session")
def toy_dev() -> list[Example]:
    return toy_examples(8, seed=2)


@pytest.fixture(scope="session")
def toy_prompt() -> Prompt:
    return Prompt.create("Review: {text}\nSentiment:{label}", "bad,good", LABELS)

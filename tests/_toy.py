"""The toy tasks of the test suite, defined once: sentiment (classification), a multiple-choice
task with per-example choices, and short-answer questions (generation), plus a fake backend
that does well on all three without any forward pass.
"""

from __future__ import annotations

import random

from promptsearch.backends import FakeBackend
from promptsearch.tasks import Example, Task

__all__ = [
    "NEGATIVE_TEXTS",
    "POSITIVE_TEXTS",
    "QUERIES",
    "fake_backend",
    "sentiment_examples",
    "toy_choice_task",
    "toy_generation_task",
    "toy_task",
]

POSITIVE_TEXTS = (
    "great fun film",
    "I loved it",
    "lovely story",
    "brilliant acting",
    "wonderful music",
    "the best movie",
)
NEGATIVE_TEXTS = (
    "boring and bad",
    "the worst movie",
    "dull acting",
    "awful plot",
    "terrible story",
    "I hated it",
)
QUERIES = (
    "a great story",
    "dull and boring plot",
    "I loved the music",
    "the worst acting",
    "fun film",
    "terrible",
    "nice movie but too long",
    "brilliant",
)

_CAPITALS = {
    "France": "Paris",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Japan": "Tokyo",
    "Egypt": "Cairo",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Chile": "Santiago",
    "Cuba": "Havana",
    "Greece": "Athens",
    "Norway": "Oslo",
    "Sweden": "Stockholm",
    "Poland": "Warsaw",
    "Austria": "Vienna",
    "Ireland": "Dublin",
    "Portugal": "Lisbon",
    "Hungary": "Budapest",
    "Finland": "Helsinki",
    "Denmark": "Copenhagen",
    "Belgium": "Brussels",
    "Turkey": "Ankara",
    "India": "Delhi",
    "China": "Beijing",
    "Russia": "Moscow",
    "Canada": "Ottawa",
    "Mexico": "Mexico City",
    "Brazil": "Brasilia",
    "Germany": "Berlin",
    "Iran": "Tehran",
    "Iraq": "Baghdad",
    "Syria": "Damascus",
    "Nepal": "Kathmandu",
    "Ghana": "Accra",
    "Mali": "Bamako",
    "Niger": "Niamey",
    "Chad": "N'Djamena",
    "Laos": "Vientiane",
    "Oman": "Muscat",
    "Qatar": "Doha",
    "Yemen": "Sanaa",
}
_COLORS = ("red", "green", "blue", "yellow")
_THINGS = {
    "grass": "green",
    "sky": "blue",
    "blood": "red",
    "banana": "yellow",
    "sea": "blue",
    "cherry": "red",
    "lemon": "yellow",
    "leaf": "green",
    "tomato": "red",
    "frog": "green",
}


def sentiment_examples(n_per_class: int, seed: int) -> list[Example]:
    """``2 * n_per_class`` reviews, positive and negative in turn, numbered to be distinct."""
    rng = random.Random(seed)
    out = []
    for i in range(n_per_class):
        out.append(Example.create({"text": f"{rng.choice(POSITIVE_TEXTS)} {i}"}, "positive"))
        out.append(Example.create({"text": f"{rng.choice(NEGATIVE_TEXTS)} {i}"}, "negative"))
    return out


def toy_task(n_per_class: int = 40, seed: int = 0, test_size: int = 16) -> Task:
    """The sentiment task (negative / positive)."""
    examples = tuple(sentiment_examples(n_per_class, seed))
    return Task("toy", ("text",), ("negative", "positive"), examples, test_size=test_size)


def toy_choice_task(n: int = 40, seed: int = 0, test_size: int = 8) -> Task:
    """Multiple choice: the color of a thing, four choices per example in a shuffled order."""
    rng = random.Random(seed)
    things = list(_THINGS.items())
    examples = []
    for i in range(n):
        thing, color = things[i % len(things)]
        choices = list(_COLORS)
        rng.shuffle(choices)
        examples.append(Example.create({"text": f"the {thing} ({i})"}, color, choices=choices))
    return Task("colors", ("text",), (), tuple(examples), test_size=test_size, task_type="multiple_choice")


def toy_generation_task(test_size: int = 8) -> Task:
    """Generation: the capital of a country (one or two references)."""
    examples = [
        Example.create(
            {"text": f"What is the capital of {country}?"},
            references=[city, city.lower()] if " " not in city else [city],
        )
        for country, city in _CAPITALS.items()
    ]
    return Task("capitals", ("text",), (), tuple(examples), test_size=test_size, task_type="generation")


def fake_backend(seed: int = 0, noise: float = 1.0) -> FakeBackend:
    """A fake model that knows sentiment words, colors and capitals, with prompt-dependent noise."""
    positive = {
        w: {"positive": 2.0, "good": 2.0, "great": 1.5}
        for w in ("great", "loved", "lovely", "brilliant", "wonderful", "best", "fun")
    }
    negative = {
        w: {"negative": 2.0, "bad": 2.0, "terrible": 1.5}
        for w in ("boring", "bad", "worst", "dull", "awful", "terrible", "hated")
    }
    colors = {thing: {color: 3.0} for thing, color in _THINGS.items()}
    return FakeBackend(
        affinities={**positive, **negative, **colors},
        answers=dict(_CAPITALS),
        noise=noise,
        wrong_rate=0.3,
        seed=seed,
        name=f"fake-toy-{seed}",
    )

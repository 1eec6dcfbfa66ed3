"""Shared data for the export tests: a toy sentiment task and prompts of every kind."""

from __future__ import annotations

import numpy as np

from promptsearch.demonstrations import SimilarSelector
from promptsearch.models import LoadedModel
from promptsearch.scoring import make_scorer, score_prompt
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt
from tests import _toy

QUERIES = list(_toy.QUERIES)


def toy_task() -> Task:
    """Twelve examples of the toy sentiment task (positive first, then negative)."""
    exs = [Example.create({"text": f"{t} {i}"}, "positive") for i, t in enumerate(_toy.POSITIVE_TEXTS)]
    exs += [Example.create({"text": f"{t} {i}"}, "negative") for i, t in enumerate(_toy.NEGATIVE_TEXTS)]
    return Task("toy", ("text",), ("negative", "positive"), tuple(exs))


def prompts(task: Task) -> dict[str, Prompt]:
    """Plain, calibrated, fixed demonstrations, similar-selector and synonym prompts."""
    train = task.examples
    base = "Review: {text}\nSentiment:{label}"
    return {
        "plain": Prompt.create(base, "bad,good", task.label_names),
        "calibrated": Prompt.create(base, "bad,good", task.label_names, calibrate=True),
        "demos": Prompt.create(
            base,
            "bad,good",
            task.label_names,
            instruction="Classify the review.",
            demonstrations=(train[0], train[7], train[2]),
        ),
        "similar": Prompt.create(
            base, "bad,good", task.label_names, selector=SimilarSelector(train, 3, fields=("text",))
        ),
        "synonyms_calibrated_similar": Prompt.create(
            "{text} It was{label}",
            "bad|awful|terrible,good|great",
            task.label_names,
            calibrate=True,
            selector=SimilarSelector(train, 2, fields=("text",), order="by_label"),
        ),
    }


def direct_probs(model: LoadedModel, prompt: Prompt, texts: list[str]) -> np.ndarray:
    """Probabilities computed without the export package: score_prompt then a softmax."""
    examples = [Example.create({"text": t}, "") for t in texts]
    scores = score_prompt(make_scorer(model), prompt, examples)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    out: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return out

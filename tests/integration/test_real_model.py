"""Integration tests with the real default model (SmolLM2-135M-Instruct) on small slices."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2() -> object:
    from promptsearch.models import DEFAULT_MODEL, load_model

    return load_model(DEFAULT_MODEL, dtype="float32", device="cpu")


def test_sensible_template_is_well_above_chance_on_movies(smollm2: object) -> None:
    from promptsearch.evaluation import evaluate

    result = evaluate(
        "movies", smollm2, "Review: {text}\nSentiment:{label}", "negative,positive", split="test", limit=50
    )
    assert result.n == 50
    # Chance is 0.5; this template scores ~0.75-0.8 on the test set (measured).
    assert result.accuracy >= 0.65
    assert result.ci_low > 0.5


def test_batched_scores_equal_unbatched_on_the_real_model(smollm2: object) -> None:
    import numpy as np

    from promptsearch.scoring import make_scorer
    from promptsearch.tasks import few_shot_split, load_task
    from promptsearch.templates import Prompt

    task = load_task("movies")
    examples = list(few_shot_split(task, k=16, seed=13).test)[:12]
    prompt = Prompt.create(
        "{text} Overall, the film is{label}",
        "terrible|awful,great|magnificent",
        task.label_names,
        instruction="Classify the review.",
    )
    instances = prompt.instances(examples)
    batched = make_scorer(smollm2, batch_size=12).loglikelihood(instances)  # type: ignore[arg-type]
    single = make_scorer(smollm2, batch_size=1).loglikelihood(instances)  # type: ignore[arg-type]
    for a, b in zip(batched, single):
        np.testing.assert_allclose(a, b, atol=1e-4)

from __future__ import annotations

import logging

import numpy as np
import pytest

from promptsearch.evaluation import evaluate_prompt
from promptsearch.exceptions import DataError
from promptsearch.models import LoadedModel
from promptsearch.scoring import aggregate_labels, calibrate_scores, make_scorer, score_prompt
from promptsearch.study import MemoryScoreCache, SQLiteScoreCache
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt

TEXTS = [
    ("great fun film", "positive"),
    ("boring and bad", "negative"),
    ("I loved it", "positive"),
    ("the worst movie", "negative"),
    ("lovely story", "positive"),
    ("dull acting", "negative"),
]


def _task() -> Task:
    exs = tuple(Example.create({"text": t}, lab) for t, lab in TEXTS)
    return Task("tiny", ("text",), ("negative", "positive"), exs)


def test_aggregate_uses_logsumexp_over_synonyms() -> None:
    raw = [np.array([np.log(0.1), np.log(0.2), np.log(0.3)])]
    out = aggregate_labels(raw, [0, 0, 1], 2)
    np.testing.assert_allclose(np.exp(out[0]), [0.3, 0.3])


def test_calibration_removes_content_free_bias() -> None:
    scores = np.log(np.array([[0.9, 0.1], [0.6, 0.4]]))
    cf = np.log(np.array([[0.8, 0.2]]))
    cal = calibrate_scores(scores, cf)
    np.testing.assert_allclose(np.exp(cal).sum(axis=1), 1.0)
    assert cal[1].argmax() == 1  # 0.6/0.8 < 0.4/0.2


def test_cache_gives_identical_scores_and_counts_hits(tiny_causal: LoadedModel, tmp_path: object) -> None:
    task = _task()
    prompt = Prompt.create(
        "Review: {text}\nSentiment:{label}", "bad|terrible,good", task.label_names, calibrate=True
    )
    scorer = make_scorer(tiny_causal, batch_size=4)
    cache = SQLiteScoreCache(f"{tmp_path}/s.sqlite")
    first = score_prompt(scorer, prompt, task.examples, cache=cache)
    calls = scorer.stats.instances
    second = score_prompt(scorer, prompt, task.examples, cache=SQLiteScoreCache(f"{tmp_path}/s.sqlite"))
    assert scorer.stats.instances == calls  # nothing recomputed, even from a new connection
    np.testing.assert_allclose(first, second)
    uncached = score_prompt(make_scorer(tiny_causal), prompt, task.examples)
    # another batch size: fp32 kernels differ by ~1e-6 between batch shapes on some CPUs
    np.testing.assert_allclose(first, uncached, atol=1e-5)
    mem = MemoryScoreCache()
    score_prompt(scorer, prompt, task.examples[:3], cache=mem)
    score_prompt(scorer, prompt, task.examples, cache=mem)
    assert mem.hits == 3 + 3  # 3 examples + 3 content-free inputs reused


def test_long_inputs_are_truncated_never_the_template(
    tiny_causal: LoadedModel, caplog: pytest.LogCaptureFixture
) -> None:
    task = _task()
    long_text = " ".join(["the movie was great and the story was fun"] * 200)
    prompt = Prompt.create("Review: {text}\nSentiment:{label}", "bad,good", task.label_names)
    scorer = make_scorer(tiny_causal)
    ex = Example.create({"text": long_text}, "positive")
    with caplog.at_level(logging.WARNING):
        scores = score_prompt(scorer, prompt, [ex, ex])
    assert np.isfinite(scores).all()
    assert sum("truncated" in r.message for r in caplog.records) == 1
    from promptsearch.scoring import fit_instances

    inst = fit_instances(scorer, prompt, [ex])[0]
    assert inst.context.startswith("Review: the movie") and inst.context.endswith("\nSentiment:")
    assert scorer.count_tokens(inst.full_context) < tiny_causal.max_length


def test_evaluate_prompt_metrics_and_empty_split(tiny_causal: LoadedModel) -> None:
    task = _task()
    prompt = Prompt.create("Review: {text}\nSentiment:{label}", "bad,good", task.label_names)
    scorer = make_scorer(tiny_causal)
    result = evaluate_prompt(scorer, prompt, task, task.examples)
    assert result.n == len(TEXTS)
    assert result.accuracy == np.mean(np.array(result.predictions) == np.array(result.labels))
    assert result.ci_low <= result.accuracy <= result.ci_high
    np.testing.assert_allclose(np.array(result.probabilities).sum(axis=1), 1.0)
    assert {"accuracy", "macro_f1", "n", "ci_low", "ci_high"} <= set(result.to_dict())
    with pytest.raises(DataError, match="No examples"):
        evaluate_prompt(scorer, prompt, task, [])

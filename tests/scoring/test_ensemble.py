"""Scoring a PromptEnsemble: the mean of the members' log-softmax, built into predictions by the
task's strategy, with the members cached and progress counted once per example."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from promptsearch.backends import FakeBackend
from promptsearch.evaluation import evaluate_prompt
from promptsearch.exceptions import TemplateError
from promptsearch.models import LoadedModel
from promptsearch.scoring import (
    ensemble_scores,
    make_scorer,
    outputs,
    predict,
    score_members,
    score_prompt,
    softmax,
)
from promptsearch.study import MemoryScoreCache
from promptsearch.tasks import Task
from promptsearch.templates import Prompt, PromptEnsemble, Template


def _log_softmax(x: np.ndarray) -> np.ndarray:
    """Written out independently of the library: log(exp(x) / sum(exp(x)))."""
    e = np.exp(x - x.max())
    return np.asarray(np.log(e / e.sum()))


def _label_members(task: Task) -> list[Prompt]:
    return [
        Prompt.create("{text} It was{label}", "bad,good", task.label_names),
        Prompt.create("Review: {text}\nSentiment:{label}", "negative|awful,positive|great", task.label_names),
        Prompt.create("{text} All in all:{label}", "bad,great", task.label_names, calibrate=True),
    ]


def _choice_members() -> list[Prompt]:
    return [Prompt(Template("{text} is{label}"), None), Prompt(Template("Color of {text}:{label}"), None)]


def test_label_ensemble_is_the_mean_of_member_log_softmax(toy_task: Task, fake_lm: FakeBackend) -> None:
    examples = list(toy_task.examples[:12])
    members = _label_members(toy_task)
    member_outs = [predict(fake_lm, m, toy_task, examples) for m in members]
    out = predict(fake_lm, PromptEnsemble.of(members), toy_task, examples)
    expected = [
        np.mean([_log_softmax(o.scores[i]) for o in member_outs], axis=0) for i in range(len(examples))
    ]
    np.testing.assert_allclose(np.stack(out.scores), np.stack(expected), rtol=0, atol=1e-12)
    probs = [softmax(e) for e in expected]
    assert out.predictions.kind == "label" and out.predictions.n_labels == 2
    assert out.predictions.predicted == tuple(int(np.argmax(p)) for p in probs)
    targets = tuple(toy_task.label_index(e.label) for e in examples)
    assert out.predictions.targets == targets
    np.testing.assert_allclose(out.predictions.confidence, [p[t] for p, t in zip(probs, targets)])
    np.testing.assert_allclose(np.stack(out.probabilities), np.stack(probs))
    # The members disagree somewhere, so the average differs from each of them.
    for o in member_outs:
        assert not np.allclose(np.stack(o.probabilities), np.stack(out.probabilities))
    # score_prompt gives the same label scores for an ensemble.
    direct = score_prompt(fake_lm, PromptEnsemble.of(members), examples)
    np.testing.assert_allclose(direct, np.stack(out.scores), rtol=0, atol=1e-12)


def test_calibrated_member_enters_with_its_calibrated_scores(toy_task: Task, fake_lm: FakeBackend) -> None:
    examples = list(toy_task.examples[:8])
    plain, _, calibrated = _label_members(toy_task)
    uncalibrated = Prompt.create("{text} All in all:{label}", "bad,great", toy_task.label_names)
    out = predict(fake_lm, PromptEnsemble.of([plain, calibrated]), toy_task, examples)
    a = score_prompt(fake_lm, plain, examples)
    c = score_prompt(fake_lm, calibrated, examples)
    u = score_prompt(fake_lm, uncalibrated, examples)
    assert not np.allclose(c, u)
    expected = [(_log_softmax(a[i]) + _log_softmax(c[i])) / 2 for i in range(len(examples))]
    np.testing.assert_allclose(np.stack(out.scores), np.stack(expected), atol=1e-12)


def test_ensemble_of_identical_prompts_equals_the_member(toy_task: Task, fake_lm: FakeBackend) -> None:
    examples = list(toy_task.examples[:10])
    member = _label_members(toy_task)[1]
    twin = Prompt.create(
        "Review: {text}\nSentiment:{label}", "negative|awful,positive|great", toy_task.label_names
    )
    single = predict(fake_lm, member, toy_task, examples)
    out = predict(fake_lm, PromptEnsemble.of([member, twin]), toy_task, examples)
    assert out.predictions.predicted == single.predictions.predicted
    assert out.predictions.targets == single.predictions.targets
    np.testing.assert_allclose(out.predictions.confidence, single.predictions.confidence, atol=1e-12)
    np.testing.assert_allclose(np.stack(out.probabilities), np.stack(single.probabilities), atol=1e-12)
    np.testing.assert_allclose(
        np.stack(out.scores), np.stack([_log_softmax(s) for s in single.scores]), atol=1e-12
    )


def test_choice_ensemble(toy_choice_task: Task, fake_lm: FakeBackend) -> None:
    examples = list(toy_choice_task.examples[:10])
    members = _choice_members()
    member_outs = [predict(fake_lm, m, toy_choice_task, examples) for m in members]
    out = predict(fake_lm, PromptEnsemble.of(members), toy_choice_task, examples)
    assert out.predictions.kind == "choice"
    for i, ex in enumerate(examples):
        expected = (_log_softmax(member_outs[0].scores[i]) + _log_softmax(member_outs[1].scores[i])) / 2
        np.testing.assert_allclose(out.scores[i], expected, atol=1e-12)
        assert out.scores[i].shape == (len(ex.choices),)
        assert out.predictions.predicted[i] == int(np.argmax(expected))
        assert out.predictions.targets[i] == ex.choice_index


def test_generation_task_raises(toy_generation_task: Task, fake_lm: FakeBackend) -> None:
    ensemble = PromptEnsemble.of(_choice_members())
    with pytest.raises(TemplateError, match=r"generate texts.*single prompt"):
        predict(fake_lm, ensemble, toy_generation_task, list(toy_generation_task.examples[:2]))
    with pytest.raises(TemplateError, match="texts, not scores"):
        outputs.get("text").from_scores(toy_generation_task, [], [])
    assert fake_lm.stats.instances == 0  # refused before any work


def test_members_are_cached_and_progress_counts_each_example_once(
    toy_task: Task, fake_lm: FakeBackend
) -> None:
    examples = list(toy_task.examples[:9])
    members = _label_members(toy_task)
    cache = MemoryScoreCache()
    counts: list[int] = []
    first = predict(
        fake_lm, PromptEnsemble.of(members), toy_task, examples, cache=cache, progress=counts.append
    )
    assert sum(counts) == len(examples)
    done = fake_lm.stats.instances
    assert done >= len(members) * len(examples)
    # Each member alone is now answered from the cache, as is the ensemble in another order.
    for m in members:
        predict(fake_lm, m, toy_task, examples, cache=cache)
    counts.clear()
    again = predict(
        fake_lm, PromptEnsemble.of(members[::-1]), toy_task, examples, cache=cache, progress=counts.append
    )
    assert fake_lm.stats.instances == done
    assert sum(counts) == len(examples)
    np.testing.assert_allclose(np.stack(again.scores), np.stack(first.scores), atol=1e-12)


def test_members_share_progress_rounded_down_then_finished() -> None:
    """``score_members`` reports each example once over all members' passes."""
    got: list[int] = []
    reports = iter([(2, 2), (2, 2), (2, 1)])  # 11 of 12 member-examples reported

    def score(member: object, share: Any) -> list[np.ndarray]:
        for n in next(reports):
            share(n)
        if member == "c":
            assert sum(got) == 3 and all(n > 0 for n in got)  # rounded down until the end
            share(50)  # a backend that over-reports: never more than the examples
        return [np.log([0.5, 0.5])] * 4

    combined = score_members(["a", "b", "c"], 4, score, got.append)  # type: ignore[list-item]
    assert sum(got) == 4 and len(combined) == 4
    assert len(score_members(["a"], 4, lambda m, share: [np.zeros(2)] * 4)) == 4  # type: ignore[list-item]


def test_ensemble_scores_checks_shapes() -> None:
    with pytest.raises(TemplateError, match="different numbers of options"):
        ensemble_scores([[np.zeros(2)], [np.zeros(3)]])
    with pytest.raises(TemplateError, match="different numbers of examples"):
        ensemble_scores([[np.zeros(2)], []])


def test_tiny_model_ensemble_and_evaluation(tiny_causal: LoadedModel, toy_task: Task) -> None:
    backend = make_scorer(tiny_causal)
    examples = list(toy_task.examples[:6])
    members = _label_members(toy_task)[:2]
    ensemble = PromptEnsemble.of(members)
    a, b = (score_prompt(backend, m, examples) for m in members)
    expected = np.stack([(_log_softmax(a[i]) + _log_softmax(b[i])) / 2 for i in range(len(examples))])
    out = predict(backend, ensemble, toy_task, examples)
    np.testing.assert_allclose(np.stack(out.scores), expected, atol=1e-6)
    result = evaluate_prompt(backend, ensemble, toy_task, examples)
    assert result.prompt == ensemble.to_dict()
    assert result.predictions == out.predictions.predicted
    np.testing.assert_allclose(np.array(result.probabilities), softmax(expected), atol=1e-6)

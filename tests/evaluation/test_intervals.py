"""Evaluation: every metric with its bootstrap interval (the same numbers as ``bootstrap_interval``,
faster), in the API, the result and ``promptsearch evaluate --json``; generation settings."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import pytest

from promptsearch.backends import FakeBackend
from promptsearch.cli import main
from promptsearch.evaluation import EvaluationResult, evaluate_prompt
from promptsearch.evaluation._intervals import resample_counts, score_metrics
from promptsearch.metrics import Predictions, bootstrap_interval, get_metric, metrics_for
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt

_TEXT = "the a cat dog sat on mat river pub near food cheap family friendly city centre"
_WORDS = _TEXT.split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _texts(n: int, seed: int = 0) -> Predictions:
    rng = random.Random(seed)
    outputs = tuple(_sentence(rng, rng.randint(1, 9)) for _ in range(n))
    references = tuple(
        tuple(_sentence(rng, rng.randint(1, 9)) for _ in range(rng.randint(1, 3))) for _ in range(n)
    )
    return Predictions("text", outputs, references)


def _labels(n: int, n_labels: int, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_labels, n)
    p = np.where(rng.random(n) < 0.6, y, rng.integers(0, n_labels, n))
    return Predictions("label", tuple(int(v) for v in p), tuple(int(v) for v in y), n_labels)


@pytest.mark.parametrize("kind", ["label", "text"])
def test_values_and_intervals_are_those_of_each_metric_alone(kind: str) -> None:
    preds = _labels(300, 3) if kind == "label" else _texts(120)
    names = metrics_for(kind)
    values, intervals = score_metrics(preds, names, n_resamples=200, seed=3)
    assert set(values) == set(intervals) == set(names)
    for name in names:
        metric = get_metric(name)
        assert values[name] == pytest.approx(metric.aggregate(preds), abs=1e-12), name
        expected = bootstrap_interval(metric, preds, n_resamples=200, seed=3)
        assert intervals[name] == pytest.approx(expected, abs=1e-12), name


def test_macro_f1_with_classes_beyond_n_labels_takes_the_general_path() -> None:
    preds = Predictions("label", (0, 1, 2, 2, 1), (0, 1, 2, 1, 1), n_labels=0)
    values, intervals = score_metrics(preds, ["macro_f1"], n_resamples=50)
    assert values["macro_f1"] == get_metric("macro_f1").aggregate(preds)
    assert intervals["macro_f1"] == bootstrap_interval(get_metric("macro_f1"), preds, n_resamples=50)


def test_a_plugin_metric_with_sufficient_statistics_takes_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A non-paired metric that defines its summed statistics is bootstrapped from them: the same
    interval as resampling it one resample at a time, without calling its aggregate per resample."""
    from promptsearch.metrics import BaseMetric, metrics

    class PrecisionOfOne(BaseMetric):
        name, kinds, paired = "precision_of_one_test", frozenset({"label"}), False

        def per_example(self, predictions: Predictions) -> np.ndarray:
            return np.array([float(p == y) for p, y in zip(predictions.predicted, predictions.targets)])

        def aggregate(self, predictions: Predictions) -> float:
            stats = self.sufficient_statistics(predictions)
            return (
                0.0
                if stats is None
                else float(self.aggregate_statistics(predictions, stats.sum(0, keepdims=True))[0])
            )

        def sufficient_statistics(self, predictions: Predictions) -> np.ndarray | None:
            p, y = np.asarray(predictions.predicted), np.asarray(predictions.targets)
            return np.stack([(p == 1) & (y == 1), p == 1], axis=1).astype(np.int64) if len(p) else None

        def aggregate_statistics(self, predictions: Predictions, totals: np.ndarray) -> np.ndarray:
            out: np.ndarray = np.divide(
                totals[:, 0], totals[:, 1], out=np.zeros(len(totals)), where=totals[:, 1] > 0
            )
            return out

    metric = PrecisionOfOne()
    monkeypatch.setitem(metrics._entries, metric.name, metric)  # type: ignore[attr-defined]
    preds = _labels(200, 2, seed=5)
    expected = bootstrap_interval(metric, preds, n_resamples=100, seed=1)
    calls = 0
    original = PrecisionOfOne.aggregate

    def counted(self: PrecisionOfOne, predictions: Predictions) -> float:
        nonlocal calls
        calls += 1
        return original(self, predictions)

    monkeypatch.setattr(PrecisionOfOne, "aggregate", counted)
    values, intervals = score_metrics(preds, [metric.name], n_resamples=100, seed=1)
    assert calls == 0
    assert values[metric.name] == pytest.approx(original(metric, preds))
    assert intervals[metric.name] == pytest.approx(expected, abs=1e-12)


def test_resample_counts_are_the_resamples() -> None:
    idx, counts = resample_counts(7, n_resamples=5, seed=1)
    assert counts.shape == (5, 7) and (counts.sum(axis=1) == 7).all()
    for row, count in zip(idx, counts):
        assert (np.bincount(row, minlength=7) == count).all()


def test_no_examples_give_empty_intervals() -> None:
    values, intervals = score_metrics(Predictions("text", (), ()), ["bleu", "exact_match"])
    assert intervals == {"bleu": (0.0, 0.0), "exact_match": (0.0, 0.0)}
    assert values == {"bleu": 0.0, "exact_match": 0.0}


def test_corpus_metrics_bootstrap_1000_examples_quickly() -> None:
    """BLEU, chrF and macro-F1 sum cached statistics over all resamples at once (measured: about
    0.04 s each for 1000 examples x 1000 resamples; ``bootstrap_interval`` took about 1 s each)."""
    texts, labels = _texts(1000, seed=5), _labels(1000, 4, seed=5)
    for name in ("bleu", "chrf"):
        get_metric(name).aggregate(texts)  # the per-segment statistics, cached: the metric's own cost
    started = time.perf_counter()
    score_metrics(texts, ["bleu", "chrf"])
    score_metrics(labels, metrics_for("label"))
    assert time.perf_counter() - started < 1.0


def _qa_task() -> Task:
    examples = tuple(
        Example.create({"text": f"capital of country {i}"}, references=[f"city {i}", f"town {i}"])
        for i in range(30)
    )
    return Task("qa", ("text",), (), examples, task_type="generation")


def test_evaluate_prompt_gives_every_metric_an_interval() -> None:
    task = _qa_task()
    answers = {f"country {i}": f"city {i}" for i in range(0, 30, 2)}
    prompt = Prompt.for_task(task, "Q: {text}\nA:")
    result = evaluate_prompt(FakeBackend(answers=answers, wrong_rate=0.0), prompt, task, task.examples)
    assert set(result.intervals) == set(result.metrics) == set(metrics_for("text"))
    assert (result.ci_low, result.ci_high) == result.intervals["exact_match"]
    for name, (low, high) in result.intervals.items():
        assert 0.0 <= low <= high <= 1.0, name
    data = json.loads(json.dumps(result.to_dict()))
    assert data["intervals"]["exact_match"] == [result.ci_low, result.ci_high]


def test_evaluation_result_without_intervals_still_works() -> None:
    result = EvaluationResult("t", "m", "test", {}, 1, "accuracy", {"accuracy": 1.0}, 1.0, 1.0, 0.0)
    assert result.intervals == {} and result.to_dict()["intervals"] == {}


def test_cli_evaluate_json_has_an_interval_per_metric(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"question": f"{i} + {i}?", "answer": str(2 * i)} for i in range(40)]
    (tmp_path / "sums.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    argv = ["-q", "evaluate", "--task", "sums.jsonl", "--text-field", "question", "--target-field", "answer"]
    argv += ["--template", r"Q: {question}\nA:", "--k", "4", "--backend", "fake", "--model", "fake", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["intervals"]) == set(out["metrics"]) == set(metrics_for("text"))
    assert out["intervals"][out["metric"]] == [out["ci_low"], out["ci_high"]]


def test_evaluate_takes_the_generation_settings_of_a_space() -> None:
    from promptsearch.evaluation import evaluate

    task = _qa_task()
    fake = FakeBackend(answers={f"country {i}": f"city {i}" for i in range(30)}, wrong_rate=0.0)
    plain = evaluate(task, fake, "Q: {text}\nA:", k=4, limit=6)
    assert plain.exact_match == 1.0 and all(p.startswith("city ") for p in plain.predictions)
    short = evaluate(task, fake, "Q: {text}\nA:", k=4, limit=6, max_new_tokens=2)
    assert set(short.predictions) == {"city"} and short.exact_match == 0.0
    cut = evaluate(task, fake, "Q: {text}\nA:", k=4, limit=6, stop=["1"])
    assert [p for p in cut.predictions if p != "city"] and all("1" not in p for p in cut.predictions)


@pytest.mark.parametrize("name", ["chrf", "bleu"])
def test_paired_bootstrap_of_a_corpus_metric_sums_its_statistics(name: str) -> None:
    """The fast path gives the gains a resample-by-resample recomputation gives."""
    from promptsearch.metrics import paired_bootstrap

    metric = get_metric(name)
    a, other = _texts(40, seed=1), _texts(40, seed=2)
    b = Predictions("text", other.predicted, a.targets)
    gain = paired_bootstrap(metric, a, b, n_resamples=100, seed=4)
    idx = np.random.default_rng(4).integers(0, 40, size=(100, 40))
    slow = np.array([metric.aggregate(a.subset(r)) - metric.aggregate(b.subset(r)) for r in idx])
    assert gain.gain == pytest.approx(metric.aggregate(a) - metric.aggregate(b))
    assert (gain.low, gain.high) == pytest.approx(
        (float(np.quantile(slow, 0.025)), float(np.quantile(slow, 0.975))), abs=1e-12
    )
    assert gain.p_value == pytest.approx(float(np.mean(slow <= 0)))

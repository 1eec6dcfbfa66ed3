"""Generation metrics against the libraries they come from, and against the official SQuAD script.

BLEU and chrF must equal direct sacrebleu calls, ROUGE-L direct rouge-score calls, exact match
and token F1 the SQuAD v1.1 evaluation script (transcribed below) on tricky cases.
"""

from __future__ import annotations

import re
import string
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from promptsearch.metrics import Predictions, bootstrap_interval, get_metric, normalize_answer, squad_scores

# E2E-like outputs with one to three references each (a variable number, as in e2e-nlg).
OUTPUTS = (
    "Blue Spice is a coffee shop in the city centre.",
    "The Eagle is a cheap pub near Burger King.",
    "Giraffe serves fast food by the river.",
    "Aromi is a family friendly restaurant.",
    "",
    "Zizzi coffee shop, rated 5 out of 5, near the Rice Boat.",
)
REFERENCES = (
    (
        "A coffee shop in the city centre area called Blue Spice.",
        "Blue Spice is a coffee shop in city centre.",
    ),
    ("The Eagle is a low-priced pub close to Burger King.",),
    (
        "Giraffe is a fast food pub in the riverside area.",
        "Near the river, Giraffe serves fast food.",
        "Giraffe: fast food, riverside.",
    ),
    ("Aromi is a family-friendly coffee shop.", "The family friendly Aromi serves coffee."),
    ("Cotto is an Indian restaurant.",),
    ("Zizzi is a coffee shop near The Rice Boat with a customer rating of 5 out of 5.",),
)


def predictions(
    outputs: Sequence[str] = OUTPUTS, refs: Sequence[tuple[str, ...]] = REFERENCES
) -> Predictions:
    return Predictions("text", tuple(outputs), tuple(refs))


def streams(refs: Sequence[tuple[str, ...]]) -> list[list[Any]]:
    """References as sacrebleu's reference streams, padded with None (variable references)."""
    width = max(len(r) for r in refs)
    return [[r[i] if i < len(r) else None for r in refs] for i in range(width)]


@pytest.mark.parametrize(
    ("name", "sentence", "corpus"),
    [
        ("bleu", sacrebleu.sentence_bleu, sacrebleu.corpus_bleu),
        ("chrf", sacrebleu.sentence_chrf, sacrebleu.corpus_chrf),
    ],
)
def test_sacrebleu_metrics_match_sacrebleu(
    name: str, sentence: Callable[..., Any], corpus: Callable[..., Any]
) -> None:
    metric, preds = get_metric(name), predictions()
    expected = [sentence(out, list(refs)).score / 100 for out, refs in zip(OUTPUTS, REFERENCES)]
    assert metric.per_example(preds) == pytest.approx(expected, abs=1e-12)
    value = metric.aggregate(preds)
    assert value == pytest.approx(corpus(list(OUTPUTS), streams(REFERENCES)).score / 100, abs=1e-12)
    # A corpus score, not a mean of sentence scores: the metric is not paired.
    assert not metric.paired and value != pytest.approx(float(np.mean(expected)))
    # Any subset (a bootstrap resample, repeats included) equals a fresh corpus call.
    idx = [5, 0, 0, 3, 2]
    sub = [OUTPUTS[i] for i in idx], [REFERENCES[i] for i in idx]
    assert metric.aggregate(preds.subset(idx)) == pytest.approx(
        corpus(sub[0], streams(sub[1])).score / 100, abs=1e-12
    )


def test_bleu_of_short_answers_uses_the_orders_that_occur() -> None:
    outputs, refs = ("Paris", "the red car", "Rome"), (("Paris",), ("a red car",), ("Milan",))
    value = get_metric("bleu").aggregate(predictions(outputs, refs))
    # sacrebleu's corpus BLEU is 0 (undefined) without any 4-gram; effective order uses the orders seen.
    assert sacrebleu.corpus_bleu(list(outputs), streams(refs)).score == 0.0
    effective = sacrebleu.BLEU(effective_order=True).corpus_score(list(outputs), streams(refs)).score / 100
    assert value == pytest.approx(effective) and 0.0 < value < 1.0


def test_sacrebleu_scale_and_perfect_outputs() -> None:
    perfect = predictions([refs[-1] for refs in REFERENCES])
    for name in ("bleu", "chrf"):
        assert get_metric(name).aggregate(perfect) == pytest.approx(1.0)
        assert 0.0 < get_metric(name).aggregate(predictions()) < 1.0
        assert get_metric(name).aggregate(Predictions("text", (), ())) == 0.0


def test_rouge_l_matches_rouge_score() -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    expected = [
        max(scorer.score(r, out)["rougeL"].fmeasure for r in refs) for out, refs in zip(OUTPUTS, REFERENCES)
    ]
    metric = get_metric("rouge_l")
    values = metric.per_example(predictions())
    assert values == pytest.approx(expected, abs=1e-12)
    assert metric.paired and metric.aggregate(predictions()) == pytest.approx(float(np.mean(expected)))
    # The best reference counts, with stemming ("serves" ~ "serve").
    assert values[2] > scorer.score(REFERENCES[2][0], OUTPUTS[2])["rougeL"].fmeasure
    assert (
        metric.per_example(predictions(["Giraffe serve fast food"], [("Giraffe serves fast food",)]))[0]
        == 1.0
    )


# --- The SQuAD v1.1 evaluation script (evaluate-v1.1.py), transcribed verbatim -----------------


def squad_normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text: str) -> str:
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def squad_f1_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = squad_normalize_answer(prediction).split()
    ground_truth_tokens = squad_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def squad_exact_match_score(prediction: str, ground_truth: str) -> bool:
    return squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth)


def metric_max_over_ground_truths(
    metric_fn: Callable[[str, str], float], prediction: str, ground_truths: Sequence[str]
) -> float:
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


TRICKY = [
    ("The Eiffel Tower!", ["eiffel tower"]),  # case, article, punctuation
    ("  Paris ,\tFrance \n", ["paris france"]),  # whitespace and punctuation between words
    ("an apple a day", ["apple day", "an orange"]),  # articles inside, two references
    ("theater", ["the ater"]),  # "the" inside a word is no article
    ("U.S.A.", ["USA"]),
    ("Washington, D.C.", ["Washington DC", "DC"]),
    ("the cat the cat", ["cat"]),  # repeated words count once each
    ("big red car", ["red car", "a boat"]),  # best of several references
    ("Don't stop", ["dont stop"]),  # apostrophes go
    ("naïve café", ["Naïve Café"]),  # Unicode lower case
    ("forty-two", ["fortytwo", "42"]),
    ("—dash", ["dash"]),  # an em dash is not ASCII punctuation: kept
    ("nothing at all here", ["something else", "nothing at all"]),
    ("", ["answer"]),  # empty output
    ("Portugal", ["Spain", "portugal.", "Lisbon"]),
]


@pytest.mark.parametrize(("output", "references"), TRICKY)
def test_exact_match_and_f1_equal_the_squad_script(output: str, references: list[str]) -> None:
    em, f1 = squad_scores(output, references)
    assert em == float(metric_max_over_ground_truths(squad_exact_match_score, output, references))
    assert f1 == pytest.approx(metric_max_over_ground_truths(squad_f1_score, output, references), abs=1e-6)
    preds = Predictions("text", (output,), (tuple(references),))
    assert get_metric("exact_match").per_example(preds)[0] == em
    assert get_metric("token_f1").per_example(preds)[0] == f1
    assert normalize_answer(output) == squad_normalize_answer(output)


def test_squad_metrics_over_a_corpus() -> None:
    preds = Predictions("text", tuple(o for o, _ in TRICKY), tuple(tuple(r) for _, r in TRICKY))
    em = [float(metric_max_over_ground_truths(squad_exact_match_score, o, r)) for o, r in TRICKY]
    f1 = [metric_max_over_ground_truths(squad_f1_score, o, r) for o, r in TRICKY]
    assert get_metric("exact_match").aggregate(preds) == pytest.approx(np.mean(em))
    assert get_metric("token_f1").aggregate(preds) == pytest.approx(np.mean(f1), abs=1e-6)
    low, high = bootstrap_interval(get_metric("token_f1"), preds, n_resamples=200)
    assert low < float(np.mean(f1)) < high


def test_only_documented_difference_from_the_v11_script() -> None:
    # Both normalize to nothing: the v1.1 script gives F1 0, torchmetrics (as SQuAD v2) gives 1.
    assert squad_f1_score("The.", "a") == 0
    assert squad_scores("The.", ["a"]) == (1.0, 1.0)


def test_importing_metrics_loads_no_metric_library() -> None:
    code = (
        "import sys, promptsearch.metrics; "
        "print(sorted({'torch', 'torchmetrics', 'sacrebleu', 'rouge_score', 'nltk'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

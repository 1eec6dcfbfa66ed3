"""The winner rule: the baseline stays unless a contender beats it in a paired test."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from promptsearch.engine._winner import BASELINE, Contender, choose_winner, with_gain
from promptsearch.metrics import Predictions, get_metric
from promptsearch.space import SelectionSpec
from promptsearch.templates import Prompt, Template

N = 64
GOLD = tuple(i % 2 for i in range(N))


def _ctx(rule: str = "paired", level: float = 0.1, metric: str = "accuracy") -> Any:
    return SimpleNamespace(
        space=SimpleNamespace(selection=SelectionSpec(rule=rule, level=level)),
        objective=SimpleNamespace(metric=get_metric(metric)),
        split=SimpleNamespace(seed=13),
    )


def _contender(n_wrong: int, name: str, origin: str = "search", trial: Any = None) -> Contender:
    predicted = tuple(1 - y if i < n_wrong else y for i, y in enumerate(GOLD))
    preds = Predictions("label", predicted, GOLD, n_labels=2)
    score = 1 - n_wrong / N
    prompt = Prompt(Template("{text} " + name + "{label}"), None)
    return Contender(prompt, trial, None, score, score, preds, tuple(f"e{i}" for i in range(N)), origin)


def test_a_clearly_better_prompt_replaces_the_baseline() -> None:
    ctx = _ctx()
    base = _contender(20, "base", BASELINE)
    strong, weak = with_gain(ctx, _contender(4, "strong"), base), with_gain(ctx, _contender(19, "weak"), base)
    assert strong.gain is not None and strong.gain.gain == pytest.approx(16 / N)
    assert strong.gain.p_value < 0.01 and strong.gain.low > 0
    winner, reason = choose_winner(ctx, [weak, strong], base)
    assert winner is strong and "paired test" in reason


def test_a_lucky_margin_keeps_the_baseline() -> None:
    ctx = _ctx()
    base = _contender(20, "base", BASELINE)
    close = with_gain(ctx, _contender(18, "close"), base)  # 2 examples better out of 64
    assert close.gain is not None and close.gain.p_value >= 0.1
    winner, reason = choose_winner(ctx, [close], base)
    assert winner is base and "kept" in reason


def test_the_highest_lower_bound_wins_not_the_highest_score() -> None:
    ctx = _ctx(level=0.2)
    base = _contender(20, "base", BASELINE)
    steady = with_gain(ctx, _contender(10, "steady"), base)  # better on 10 examples, worse on none
    # better on 20 examples but worse on 9 others: a higher mean, a wider interval
    mixed_pred = list(GOLD)
    for i in range(20, 29):
        mixed_pred[i] = 1 - GOLD[i]
    mixed = Contender(
        Prompt(Template("{text} mixed{label}"), None),
        None,
        None,
        1 - 9 / N,
        1 - 9 / N,
        Predictions("label", tuple(mixed_pred), GOLD, n_labels=2),
        base.example_ids,
    )
    mixed = with_gain(ctx, mixed, base)
    assert mixed.gain is not None and steady.gain is not None
    assert mixed.gain.gain > steady.gain.gain and mixed.gain.low < steady.gain.low
    winner, _ = choose_winner(ctx, [mixed, steady], base)
    assert winner is steady


def test_rule_best_takes_the_best_searched_prompt() -> None:
    ctx = _ctx(rule="best")
    base = _contender(20, "base", BASELINE)
    close = with_gain(ctx, _contender(18, "close"), base)
    assert choose_winner(ctx, [close], base)[0] is close
    better_base = replace(_contender(2, "base", BASELINE), trial=object())  # the baseline was a trial
    assert choose_winner(ctx, [close], better_base)[0] is better_base


def test_gains_are_computed_on_shared_examples_only() -> None:
    ctx = _ctx()
    base = _contender(20, "base", BASELINE)
    half = _contender(0, "tuned")
    keep = list(range(N // 2, N))  # a tuned prompt scored on dev only: the second half
    half = replace(half, predictions=half.predictions.subset(keep), example_ids=tuple(f"e{i}" for i in keep))
    gained = with_gain(ctx, half, base)
    assert gained.gain is not None and gained.gain.n == N // 2
    assert gained.gain.gain == pytest.approx(0.0)  # the baseline's errors are all in the first half


def test_minimized_metrics_are_judged_in_their_direction() -> None:
    from promptsearch.metrics import PairedGain

    gain = PairedGain(gain=-0.2, low=-0.3, high=-0.1, p_value=0.0, n=10)
    assert gain.lower_bound("minimize") == pytest.approx(0.1)
    assert gain.lower_bound("maximize") == pytest.approx(-0.3)


def test_the_leaderboard_has_the_baseline_and_an_ensemble_of_the_best(tmp_path: Any) -> None:
    from promptsearch.engine import PromptSearch
    from promptsearch.metrics import get_metric
    from promptsearch.scoring import predict
    from promptsearch.templates import PromptEnsemble
    from tests import _toy
    from tests.engine.test_fake_backend import classification_space

    space = classification_space()
    task, lm = _toy.toy_task(), _toy.fake_backend()
    search = PromptSearch(space, task=task, model=lm, n_trials=12, out_dir=tmp_path).fit()
    rows = search.leaderboard_.rows
    assert [r.origin for r in rows].count("baseline") == 1
    (ens_row,) = [r for r in rows if r.origin == "ensemble"]
    ensemble = Prompt.from_dict(ens_row.prompt)
    assert isinstance(ensemble, PromptEnsemble) and len(ensemble.members) == space.selection.ensemble
    by_id = {r.prompt_id: r.rank for r in rows}
    assert ens_row.template == "ensemble of ranks " + ", ".join(str(by_id[m.id]) for m in ensemble.members)
    assert ens_row.verbalizer == ""  # each member has its own
    searched = [r for r in rows if r.origin not in ("ensemble", "baseline")]
    assert {m.id for m in ensemble.members} <= {r.prompt_id for r in searched} | {
        r.prompt_id for r in rows if r.origin == "baseline"
    }
    # its selection score is the metric of its own predictions on the selection examples
    examples = list(search.selection_examples_)
    out = predict(lm, ensemble, task, examples).predictions
    assert ens_row.dev_score == pytest.approx(get_metric("accuracy").aggregate(out))
    assert ens_row.gain is not None and ens_row.test_n > 0

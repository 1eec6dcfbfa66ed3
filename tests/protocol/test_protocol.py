"""The few-shot protocol on the fake backend: baselines and searches on the same splits and test
examples, promptsearch's paired gains, the table, saving, loading and merging."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from promptsearch.backends import FakeBackend
from promptsearch.exceptions import ConfigError, PromptSearchError
from promptsearch.metrics import PairedGain, get_metric, paired_bootstrap
from promptsearch.protocol import (
    BASELINES,
    BEST_MANUAL,
    DEFAULT_TEMPLATE,
    IN_CONTEXT,
    PROMPTSEARCH,
    MethodResult,
    ProtocolResult,
    run_protocol,
)
from promptsearch.scoring import generation_settings, predict
from promptsearch.space import (
    BackendSpec,
    SearchSpace,
    SeedTemplate,
    TemplateSpace,
    VerbalizerSpace,
    load_search_space,
)
from promptsearch.tasks import Task, few_shot_split
from promptsearch.templates import Prompt
from tests import _toy


def _space(**overrides: Any) -> SearchSpace:
    """``movies.yaml`` on the fake backend, cut down: k=4, one small generation, 16 test examples."""
    base = load_search_space("search_spaces/movies.yaml")
    settings: dict[str, Any] = {
        "backend": BackendSpec("fake"),
        "split": replace(base.split, k=4),
        "templates": replace(base.templates, n_initial=4, grammar=None),
        "verbalizers": replace(
            base.verbalizers,
            candidates=("negative,positive", "bad,good"),
            auto=replace(base.verbalizers.auto, enabled=False),
        ),
        "evolution": replace(base.evolution, generations=1),
        "final": replace(base.final, top=2, test_limit=16),
    }
    return replace(base, **{**settings, **overrides})


def _test_predictions(lm: FakeBackend, prompt: Prompt, task: Task, space: SearchSpace, seed: int) -> Any:
    split = few_shot_split(task, k=space.split.k, seed=seed)
    test = list(split.test)[: space.final.test_limit]
    settings = generation_settings(task)
    return predict(lm, prompt, task, test, generation=settings).predictions


def test_protocol_runs_baselines_and_searches_per_seed(tmp_path: Path) -> None:
    space, task, lm = _space(), _toy.toy_task(), _toy.fake_backend(noise=6.0)  # no method is perfect
    result = run_protocol(
        space, seeds=[13, 21], out_dir=tmp_path, task=task, model=lm, n_trials=4, n_demos_icl=2
    )
    assert [m.method for m in result.methods] == [DEFAULT_TEMPLATE, BEST_MANUAL, IN_CONTEXT, PROMPTSEARCH]
    assert result.seeds == (13, 21) and result.test_n == 16 and result.direction == "maximize"
    methods = {m.method: m for m in result.methods}
    accuracy = get_metric("accuracy")
    for seed in (13, 21):
        default = Prompt.from_dict(methods[DEFAULT_TEMPLATE].prompts[seed])
        # the default template: the first seed template with the first verbalizer candidate, zero-shot
        assert default.template.source == space.templates.seeds[0].template
        assert default.verbalizer is not None and default.verbalizer.label_words == (
            ("negative",),
            ("positive",),
        )
        assert not default.demonstrations
        # in-context: the default template (not the best manual one) plus demonstrations from train
        icl = Prompt.from_dict(methods[IN_CONTEXT].prompts[seed])
        assert (icl.template, icl.verbalizer) == (default.template, default.verbalizer)
        train_ids = {e.id for e in few_shot_split(task, k=4, seed=seed).train}
        assert len(icl.demonstrations) == 2 and {d.id for d in icl.demonstrations} <= train_ids
        board = json.loads((tmp_path / f"seed{seed}" / "leaderboard.json").read_text())
        assert methods[PROMPTSEARCH].prompts[seed] == board["rows"][0]["prompt"]
        assert methods[PROMPTSEARCH].per_seed[seed] == pytest.approx(
            board["rows"][0]["test_metrics"]["accuracy"]
        )
        # every value and gain recomputed here from the methods' own test predictions
        preds = {
            m: _test_predictions(lm, Prompt.from_dict(methods[m].prompts[seed]), task, space, seed)
            for m in (*BASELINES, PROMPTSEARCH)
        }
        for m in BASELINES:
            assert methods[m].per_seed[seed] == pytest.approx(accuracy.aggregate(preds[m]))
            gain = result.gains[m][seed]
            assert gain == paired_bootstrap(accuracy, preds[PROMPTSEARCH], preds[m])
            assert gain.gain == pytest.approx(
                methods[PROMPTSEARCH].per_seed[seed] - methods[m].per_seed[seed]
            )
            assert gain.n == 16 and gain.low <= gain.gain <= gain.high
    strongest = max(BASELINES, key=lambda b: (methods[b].mean, -BASELINES.index(b)))
    assert result.strongest_baseline == strongest
    # the fixture is not trivial: the strongest is not the first listed, and intervals have width
    assert strongest != DEFAULT_TEMPLATE
    assert any(g.low < g.high for per_seed in result.gains.values() for g in per_seed.values())
    table = (tmp_path / "protocol.md").read_text()
    assert f"| gain over strongest ({strongest.split(' (')[0]}) |" in table
    assert "| gain over default template |" in table and f"Strongest baseline: {strongest}" in table
    saved = json.loads((tmp_path / "protocol.json").read_text())
    assert ProtocolResult.from_dict(saved) == result
    assert saved["strongest_baseline"] == strongest and set(saved["mean_gains"]) == set(BASELINES)
    assert all((tmp_path / f"seed{s}" / "leaderboard.md").is_file() for s in (13, 21))

    # seeds run by separate processes merge into one table, gains included
    halves = [
        ProtocolResult.from_dict(
            {
                **saved,
                "seeds": [s],
                "methods": [
                    {**m, "per_seed": {str(s): m["per_seed"][str(s)]}, "prompts": {}}
                    for m in saved["methods"]
                ],
                "gains": {b: {str(s): g[str(s)]} for b, g in saved["gains"].items()},
            }
        )
        for s in (13, 21)
    ]
    merged = ProtocolResult.merge(halves)
    assert ProtocolResult.merge(halves[::-1]).seeds == (13, 21)  # ascending, whatever the order
    assert merged.seeds == (13, 21) and merged.gains == result.gains
    assert [m.per_seed for m in merged.methods] == [m.per_seed for m in result.methods]
    assert merged.markdown().splitlines()[2:] == result.markdown().splitlines()[2:]
    with pytest.raises(ConfigError, match="several results"):
        ProtocolResult.merge([halves[0], halves[0]])
    with pytest.raises(ConfigError, match="different setups"):
        ProtocolResult.merge([halves[0], replace(halves[1], k=8)])


@pytest.mark.parametrize("kind", ["multiple_choice", "generation"])
def test_protocol_runs_without_label_words(kind: str, tmp_path: Path) -> None:
    if kind == "multiple_choice":
        task = _toy.toy_choice_task()
        seeds = (
            SeedTemplate("Q: What color is {text}?\nA:{label}"),
            SeedTemplate("The color of {text} is{label}"),
        )
    else:
        task = _toy.toy_generation_task()
        seeds = (SeedTemplate("{text}\nAnswer:"), SeedTemplate("Question: {text}\nA:"))
    base = _space()
    space = _space(
        task=None,
        templates=TemplateSpace(seeds=seeds, grammar=None, n_initial=2),
        verbalizers=VerbalizerSpace(),
        calibration=None,
        demonstrations=replace(base.demonstrations, counts=(0, 2)),
        split=replace(base.split, k=8 if kind == "generation" else 4),
    )
    result = run_protocol(
        space, seeds=[13], out_dir=tmp_path, task=task, model=_toy.fake_backend(), n_trials=3
    )
    methods = {m.method: m for m in result.methods}
    assert list(methods) == [DEFAULT_TEMPLATE, BEST_MANUAL, IN_CONTEXT, PROMPTSEARCH]
    assert methods[BEST_MANUAL].prompts[13]["template"] in {s.template for s in seeds}
    assert all(methods[m].prompts[13]["verbalizer"] is None for m in BASELINES)
    icl = methods[IN_CONTEXT].prompts[13]
    assert icl["template"] == seeds[0].template and len(icl["demonstrations"]) == 4
    assert set(result.gains) == set(BASELINES) and all(
        g[13].n == result.test_n for g in result.gains.values()
    )
    assert "| gain over default template |" in result.markdown()


def _gain(gain: float, low: float, high: float) -> PairedGain:
    return PairedGain(gain, low, high, 0.1, 100)


def _result(seeds: tuple[int, ...] = (13, 21), **kw: Any) -> ProtocolResult:
    values = {
        DEFAULT_TEMPLATE: (0.60, 0.62),
        BEST_MANUAL: (0.70, 0.66),
        IN_CONTEXT: (0.72, 0.70),  # the best mean: 71.0
        PROMPTSEARCH: (0.75, 0.74),
    }
    methods = tuple(MethodResult(m, {s: values[m][i] for i, s in enumerate(seeds)}) for m in values)
    gains = {
        IN_CONTEXT: {seeds[0]: _gain(0.03, -0.01, 0.07), seeds[1]: _gain(0.04, 0.01, 0.071)},
        DEFAULT_TEMPLATE: {seeds[0]: _gain(0.15, 0.1, 0.2), seeds[1]: _gain(0.12, 0.08, 0.16)},
    }
    return ProtocolResult("toy", "fake", 4, seeds, 100, methods, "accuracy", gains, **kw)


def test_table_shows_gains_over_the_strongest_baseline_and_the_default_template() -> None:
    result = _result()
    assert result.strongest_baseline == IN_CONTEXT
    assert result.mean_gain(IN_CONTEXT) == pytest.approx(0.035)
    lines = result.markdown().splitlines()
    assert lines[2:] == [
        "| method | mean (std) | seed 13 | seed 21 |",
        "|---|---|---|---|",
        "| default template (zero-shot) | 61.0 (1.4) | 60.0 | 62.0 |",
        "| best manual | 68.0 (2.8) | 70.0 | 66.0 |",
        "| in-context (default template + demos) | 71.0 (1.4) | 72.0 | 70.0 |",
        "| promptsearch | 74.5 (0.7) | 75.0 | 74.0 |",
        "| gain over strongest (in-context) | +3.5 | +3.0 [-1.0, +7.0] | +4.0 [+1.0, +7.1] |",
        "| gain over default template | +13.5 | +15.0 [+10.0, +20.0] | +12.0 [+8.0, +16.0] |",
        "",
        "Strongest baseline: in-context (default template + demos), the best mean over seeds (71.0). "
        "Gains: promptsearch minus the baseline on the same test examples, x100, with a 95% paired "
        "bootstrap interval over the examples (higher accuracy is better).",
        "Bar (promptsearch never more than 2 points worse than the default template on test): met; "
        "worst seed 21: +12.0.",
    ]
    worse = replace(result, gains={**result.gains, DEFAULT_TEMPLATE: {13: _gain(-0.025, -0.05, 0.0)}})
    worst = worse.worst_seed_vs_default()
    assert worst is not None and worst[0] == 13 and worst[1] == pytest.approx(-0.025)
    assert "NOT met; worst seed 13: -2.5." in worse.markdown()
    assert "| gain over default template | -2.5 | -2.5 [-5.0, +0.0] | – |" in worse.markdown()


def test_table_header_says_per_class_only_for_classification_metrics() -> None:
    assert _result().markdown().startswith("Task toy, model fake, K=4 per class, test n=100;")
    generation = replace(_result(), metric="exact_match")
    assert generation.markdown().startswith("Task toy, model fake, K=4 train and dev examples, test n=100;")
    unknown = replace(_result(), metric="a_plugin_metric")  # not registered here: no error
    assert "K=4 per class" in unknown.markdown()


def test_strongest_baseline_follows_the_metric_direction_and_ties() -> None:
    result = _result()
    tie = replace(
        result, methods=(*result.methods[:2], replace(result.methods[2], per_seed={13: 0.7, 21: 0.66}))
    )
    assert tie.strongest_baseline == BEST_MANUAL  # same mean: the first listed
    assert replace(result, direction="minimize").strongest_baseline == DEFAULT_TEMPLATE
    assert replace(result, methods=result.methods[3:]).strongest_baseline is None


def test_old_protocol_json_without_gains_still_loads_and_renders() -> None:
    old = {
        "task": "movies",
        "model": "m",
        "k": 16,
        "seeds": [13],
        "test_n": 500,
        "metric": "accuracy",
        "methods": [
            {"method": "zero-shot manual", "per_seed": {"13": 0.5}, "prompts": {}, "mean": 0.5, "std": 0.0},
            {"method": "best manual", "per_seed": {"13": 0.7}, "mean": 0.7, "std": 0.0},
            {"method": "in-context (best manual + demos)", "per_seed": {"13": 0.6}, "prompts": {}},
            {"method": "promptsearch", "per_seed": {"13": 0.8}, "prompts": {"13": {"template": "t"}}},
        ],
    }
    result = ProtocolResult.from_dict(old)
    assert result.gains == {} and result.direction == "maximize"
    assert result.strongest_baseline == "best manual" and result.worst_seed_vs_default() is None
    table = result.markdown()
    assert "gain" not in table and table.splitlines()[-1] == "| promptsearch | 80.0 (0.0) | 80.0 |"
    assert ProtocolResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_merge_carries_gains_and_chooses_the_strongest_baseline_again() -> None:
    one = _result(seeds=(13, 21))
    # on seeds 42 and 87 best manual is far ahead: over all four seeds it is the strongest
    two = _result(seeds=(42, 87))
    two = replace(
        two,
        methods=(two.methods[0], replace(two.methods[1], per_seed={42: 0.9, 87: 0.9}), *two.methods[2:]),
        gains={**two.gains, BEST_MANUAL: {42: _gain(-0.15, -0.2, -0.1), 87: _gain(-0.16, -0.2, -0.1)}},
    )
    assert one.strongest_baseline == IN_CONTEXT and two.strongest_baseline == BEST_MANUAL
    merged = ProtocolResult.merge([one, two])
    assert merged.seeds == (13, 21, 42, 87) and merged.strongest_baseline == BEST_MANUAL
    assert merged.gains[IN_CONTEXT] == {**one.gains[IN_CONTEXT], **two.gains[IN_CONTEXT]}
    assert merged.gains[BEST_MANUAL] == two.gains[BEST_MANUAL]  # seeds 13 and 21 have none
    assert "| gain over strongest (best manual) | -15.5 | – | – | -15.0 [-20.0, -10.0] |" in merged.markdown()
    assert ProtocolResult.from_dict(json.loads(json.dumps(merged.to_dict()))) == merged
    with pytest.raises(ConfigError, match="different setups"):
        ProtocolResult.merge([one, replace(two, direction="minimize")])


def test_a_tuned_winner_is_scored_with_its_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from promptsearch.protocol._protocol import _winner_backend
    from promptsearch.tuning import SavedTuning

    untuned = SimpleNamespace(best_tuning_=None, split_=SimpleNamespace(seed=13))
    lm = _toy.fake_backend()
    assert _winner_backend(untuned, lm, 8) is lm  # type: ignore[arg-type]
    tuned = SimpleNamespace(best_tuning_=SavedTuning("lora", tmp_path), split_=SimpleNamespace(seed=13))
    with pytest.raises(PromptSearchError, match=r"seed 13 was tuned \(lora\).*not one"):
        _winner_backend(tuned, lm, 8)  # type: ignore[arg-type]
    calls: list[tuple[Any, ...]] = []
    tuned_lm = _toy.fake_backend(seed=9)

    def fake_load(*args: Any, **kwargs: Any) -> FakeBackend:
        calls.append((args, kwargs))
        return tuned_lm

    monkeypatch.setattr("promptsearch.tuning.load_tuned_scorer", fake_load)
    trainable = SimpleNamespace(loaded="the loaded model", name="hf")
    assert _winner_backend(tuned, trainable, 8) is tuned_lm  # type: ignore[arg-type]
    assert calls == [(("the loaded model", "lora", tmp_path), {"batch_size": 8})]

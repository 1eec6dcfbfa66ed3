"""Soft-prompt and tuning hyperparameters chosen by the same study, on a tiny model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from promptsearch.exceptions import ConfigError
from promptsearch.models import LoadedModel
from promptsearch.search import PromptSearch, SearchSpace, load_search_space
from promptsearch.study import TRAIN_STEP_OFFSET
from promptsearch.tasks import Example, Task
from tests._toy import toy_task


def _task() -> Task:
    return toy_task(n_per_class=24, seed=1, test_size=8)


def _tiny_space(tuning: dict[str, Any], top: int) -> SearchSpace:
    """movies.yaml cut down for a tiny model: k=4, 4 seed templates, one generation."""
    base = load_search_space("search_spaces/movies.yaml")
    return replace(
        base,
        split=replace(base.split, k=4),
        templates=replace(base.templates, n_initial=4, grammar=None),
        verbalizers=replace(base.verbalizers, auto=replace(base.verbalizers.auto, enabled=False)),
        evolution=replace(base.evolution, generations=1),
        final=replace(base.final, top=top, test_limit=8),
        selection=replace(base.selection, rule="best"),  # the best tuned prompt wins
        tuning=tuning,
    )


def test_study_chooses_tuning_mode_and_hyperparameters(tiny_causal: LoadedModel, tmp_path: Path) -> None:
    space = _tiny_space(
        {
            "modes": ["prompt_tuning"],
            "prompt_tuning": {"n_tokens": [2, 4], "lr": [0.01, 0.1], "steps": [2, 4], "eval_every": 1},
        },
        top=3,
    )
    search = PromptSearch(space, task=_task(), model=tiny_causal, n_trials=3, out_dir=tmp_path).fit()
    trials = [t for t in search.study_.trials if t.state.is_finished()]
    assert all(t.params["tuning_mode"] == "prompt_tuning" for t in trials)
    assert all({"pt_n_tokens", "pt_lr", "pt_steps"} <= set(t.params) for t in trials)
    # the training curve went to the study at offset steps, the dev examples at their own steps
    steps = set(trials[0].intermediate_values)
    dev_ids = {d.id for d in search.split_.dev}
    dev_steps = {i for i, e in enumerate(search.selection_examples_) if e.id in dev_ids}
    assert any(s >= TRAIN_STEP_OFFSET for s in steps)
    assert {s for s in steps if s < TRAIN_STEP_OFFSET} <= dev_steps
    best = search.leaderboard_.best
    assert best.tuning == "prompt_tuning"
    assert search.best_tuning_ is not None and (search.best_tuning_.path / "adapter_config.json").is_file()

    from promptsearch.export import export_search, load_prompt

    folder = export_search(search, tmp_path / "export", tuning=search.best_tuning_)
    predictor = load_prompt(folder, model=tiny_causal)
    texts = ["great fun film 99", "awful plot 98"]
    again = load_prompt(folder, model=tiny_causal)
    np.testing.assert_allclose(predictor.predict_proba(texts), again.predict_proba(texts))
    from promptsearch.scoring import score_prompt
    from promptsearch.tuning import load_soft_prompt

    direct = score_prompt(
        load_soft_prompt(tiny_causal, search.best_tuning_.path),
        search.best_prompt_,
        [Example.create({"text": t}, "positive") for t in texts],
    )
    assert list(predictor.predict(texts)) == [search.task_.label_names[i] for i in direct.argmax(axis=1)]


def test_bad_tuning_section_is_a_config_error() -> None:
    base = load_search_space("search_spaces/movies.yaml")
    with pytest.raises(ConfigError, match="unknown mode"):
        replace(base, tuning={"modes": ["prompt_tunin"]})
    with pytest.raises(ConfigError, match="not a setting"):
        replace(base, tuning={"modes": ["lora"], "lora": {"rnak": [4, 8]}})


def test_staged_schedule_tunes_the_best_discrete_prompts(
    tiny_causal: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = _tiny_space(
        {
            "modes": ["none", "prompt_tuning"],
            "trials": 2,
            "top": 2,
            "prompt_tuning": {"n_tokens": 2, "lr": [0.01, 0.1], "steps": 2, "eval_every": 1},
        },
        top=6,
    )
    search = PromptSearch(space, task=_task(), model=tiny_causal, n_trials=3, out_dir=tmp_path).fit()
    trials = search.study_.trials
    assert len(trials) == 5
    discrete, tuned = trials[:3], trials[3:]
    assert all("tuning_mode" not in t.params for t in discrete)  # discrete first, no tuning
    bases = search.study_.user_attrs["tuning_bases"]
    completed = sorted(
        (t for t in discrete if t.value is not None), key=lambda t: (-(t.value or 0.0), t.number)
    )
    assert bases[0] == completed[0].number and len(bases) <= 2
    for t in tuned:
        assert t.params["tuning_mode"] == "prompt_tuning" and t.params["tuning_base"] in bases
        assert t.user_attrs["stage"] == "tuning" and t.user_attrs["generation"] == 1
        source = trials[t.params["tuning_base"]]
        assert t.user_attrs["prompt_id"] == source.user_attrs["prompt_id"]
        assert t.user_attrs["template"] == source.user_attrs["template"]
    # a tuned prompt and its untuned base are separate leaderboard entries
    board = search.leaderboard_
    assert {r.tuning for r in board.rows} == {"none", "prompt_tuning"}
    assert "| origin | tuning |" in (tmp_path / "leaderboard.md").read_text()
    # the forward passes counted include those of the tuned prompts' own backends
    tuned_evaluations = sum(int(t.user_attrs.get("evaluations", 0)) for t in tuned)
    assert tuned_evaluations > 0
    assert board.forward_passes >= search.backend_.stats.instances + tuned_evaluations
    # resuming runs nothing more, and the bases stay those stored in the study; the tuned
    # rows' dev and test scores come from the cache (keyed by a hash of the trained weights)
    import promptsearch.tuning as tuning_module

    scorers: list[Any] = []
    load = tuning_module.load_tuned_scorer

    def recording(*args: Any, **kwargs: Any) -> Any:
        scorers.append(load(*args, **kwargs))
        return scorers[-1]

    monkeypatch.setattr(tuning_module, "load_tuned_scorer", recording)
    again = PromptSearch(space, task=_task(), model=tiny_causal, n_trials=3, out_dir=tmp_path).fit()
    assert len(again.study_.trials) == 5 and again.study_.user_attrs["tuning_bases"] == bases
    assert not scorers  # the leaderboard of this state is stored in the study: nothing is recomputed
    assert [r.test_accuracy for r in again.leaderboard_.rows] == [r.test_accuracy for r in board.rows]
    other = PromptSearch(space, task=_task(), model=tiny_causal, n_trials=3, out_dir=tmp_path, top=2).fit()
    assert scorers and all(s.stats.instances == 0 for s in scorers)  # new final settings: from the cache
    searched = [r for r in other.leaderboard_.rows if r.origin not in ("baseline", "ensemble")]
    assert len(searched) <= 2 and len(other.study_.trials) == 5  # plus the baseline and an ensemble


def test_staged_schedule_is_checked() -> None:
    base = load_search_space("search_spaces/movies.yaml")
    staged = replace(base, tuning={"modes": ["lora"], "trials": 4})
    assert staged.total_trials() == base.budget.trials + 4 and staged.total_trials(10) == 14
    assert base.total_trials(10) == 10
    with pytest.raises(ConfigError, match=r"tuning\.trials: must be a whole number"):
        replace(base, tuning={"modes": ["lora"], "trials": 0})
    with pytest.raises(ConfigError, match=r"set tuning\.trials too"):
        replace(base, tuning={"modes": ["lora"], "top": 2})
    with pytest.raises(ConfigError, match="has no tuning mode"):
        replace(base, tuning={"modes": ["none"], "trials": 2})


def test_prompt_attrs_copied_to_tuning_trials_describe_the_prompt() -> None:
    from promptsearch.engine import PromptChoices, choices_attrs
    from promptsearch.generators import Candidate
    from promptsearch.study import Attr
    from promptsearch.templates import Prompt

    prompt = Prompt.create("Review: {text}\nSentiment:{label}", "bad,good", ["negative", "positive"])
    choices = PromptChoices(Candidate("", prompt.template.source), prompt.verbalizer)
    assert set(choices_attrs(choices, prompt, 0)) - {"generation"} == set(Attr.PROMPT)


def test_tuning_waits_for_the_discrete_search_to_finish(tiny_causal: LoadedModel, tmp_path: Path) -> None:
    space = _tiny_space(
        {
            "modes": ["prompt_tuning"],
            "trials": 1,
            "prompt_tuning": {"n_tokens": 2, "steps": 2, "eval_every": 1},
        },
        top=3,
    )

    def stop_after_first(study: Any, trial: Any) -> None:
        study.stop()  # as if the run were interrupted after one discrete trial

    first = PromptSearch(
        space, task=_task(), model=tiny_causal, n_trials=3, out_dir=tmp_path, callbacks=[stop_after_first]
    ).fit()
    assert "tuning_bases" not in first.study_.user_attrs  # no bases from a partial search
    assert all("tuning_base" not in t.params for t in first.study_.trials)
    again = PromptSearch(space, task=_task(), model=tiny_causal, n_trials=3, out_dir=tmp_path).fit()
    trials = again.study_.trials
    assert len(trials) == 4 and "tuning_base" in trials[-1].params
    assert all("tuning_base" not in t.params for t in trials[:3])


def test_tuning_bases_rank_pruned_trials_last() -> None:
    import optuna

    from promptsearch.study import choose_tuning_bases

    study = optuna.create_study(direction="maximize")
    for number, (value, pruned) in enumerate([(0.8, False), (0.95, True), (0.7, False), (0.8, False)]):
        attrs: dict[str, Any] = {"prompt_id": f"p{number if number < 3 else 0}"}
        if pruned:
            attrs["pruned_at"] = 8
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs=attrs))
    assert choose_tuning_bases(study, 3) == [0, 2, 1]
    # p0 once (trial 0, its duplicate 3 dropped), then the fully scored 0.7, then the pruned 0.95
    assert study.user_attrs["tuning_bases"] == [0, 2, 1]

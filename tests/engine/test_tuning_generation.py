"""A generation search whose trials tune soft prompts, end to end on a tiny model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from promptsearch.exceptions import ConfigError
from promptsearch.models import LoadedModel
from promptsearch.scoring import predict
from promptsearch.search import PromptSearch, SearchSpace, load_search_space
from promptsearch.space import GenerationSpec, SeedTemplate
from promptsearch.study import TRAIN_STEP_OFFSET
from promptsearch.tasks import Example
from promptsearch.tuning import load_soft_prompt
from tests._toy import toy_generation_task


def _space(tuning: dict[str, object]) -> SearchSpace:
    """generic-generation.yaml cut down for a tiny model: k=4, two seed templates, no evolution."""
    base = load_search_space("search_spaces/generic-generation.yaml")
    return replace(
        base,
        split=replace(base.split, k=4),
        templates=replace(
            base.templates,
            seeds=(SeedTemplate("Question: {text}\nAnswer:"), SeedTemplate("{text}\nAnswer:")),
            grammar=None,
            n_initial=2,
        ),
        demonstrations=replace(base.demonstrations, counts=(0,), seeds=1),
        evolution=replace(base.evolution, generations=1),
        final=replace(base.final, top=2, test_limit=8),
        selection=replace(base.selection, rule="best"),  # the best tuned prompt wins
        generation=GenerationSpec(max_new_tokens=4, stop=("\n",)),
        tuning=tuning,
    )


def test_generation_search_tunes_soft_prompts(tiny_causal: LoadedModel, tmp_path: Path) -> None:
    space = _space(
        {"modes": ["prompt_tuning"], "prompt_tuning": {"n_tokens": 2, "lr": 0.1, "steps": 2, "eval_every": 1}}
    )
    task = toy_generation_task()
    search = PromptSearch(space, task=task, model=tiny_causal, n_trials=2, out_dir=tmp_path).fit()
    trials = [t for t in search.study_.trials if t.state.is_finished()]
    assert len(trials) == 2 and all(t.params["tuning_mode"] == "prompt_tuning" for t in trials)
    # the training curve (dev exact match at steps 0, 1, 2) went to the study at offset steps
    assert {s % TRAIN_STEP_OFFSET for s in trials[0].intermediate_values if s >= TRAIN_STEP_OFFSET} == {
        0,
        1,
        2,
    }
    board = search.leaderboard_
    assert board.metric == "exact_match" and board.best.tuning == "prompt_tuning"
    assert search.best_prompt_.template.generation
    assert search.best_tuning_ is not None

    from promptsearch.export import export_search, load_prompt

    predictor = load_prompt(
        export_search(search, tmp_path / "export", tuning=search.best_tuning_), model=tiny_causal
    )
    inputs = [dict(e.inputs) for e in search.split_.test[:4]]
    direct = predict(
        load_soft_prompt(tiny_causal, search.best_tuning_.path),
        search.best_prompt_,
        search.task_,
        [Example.create(i) for i in inputs],
        generation=search.generation_,
    )
    assert predictor.predict(inputs) == list(direct.predictions.predicted)


def test_generation_space_rejects_modes_that_cannot_tune_it() -> None:
    with pytest.raises(ConfigError, match=r"bbt cannot tune the prompts of a generation task.*prompt_tuning"):
        _space({"modes": ["bbt"]}).check_task_type("generation")
    _space({"modes": ["none", "prompt_tuning", "lora", "full"]}).check_task_type("generation")
    from promptsearch.space import TuningSpace

    with pytest.raises(ConfigError, match=r"multiple_choice task.*no tuning mode tunes them yet"):
        TuningSpace(modes=("none", "prompt_tuning")).check_task("multiple_choice")
    TuningSpace(modes=("none",)).check_task("multiple_choice")


def test_tuned_generation_trials_stop_early_on_the_study_metric(
    tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    import json

    from promptsearch.tuning._soft_result import SOFT_META

    space = replace(
        _space({"modes": ["prompt_tuning"], "prompt_tuning": {"n_tokens": 2, "lr": 0.1, "steps": 1}}),
        metric="token_f1",
    )
    search = PromptSearch(
        space, task=toy_generation_task(), model=tiny_causal, n_trials=1, out_dir=tmp_path
    ).fit()
    assert search.best_tuning_ is not None
    meta = json.loads((search.best_tuning_.path / SOFT_META).read_text())
    assert meta["metric"] == "token_f1"  # the space's metric, not the trainer's default

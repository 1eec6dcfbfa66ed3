"""The study loop on a tiny model: leaderboard, resume after interruption, cache hits."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from promptsearch.engine import DevObjective
from promptsearch.metrics import get_metric
from promptsearch.models import LoadedModel
from promptsearch.search import MemoryScoreCache, PromptSearch, SQLiteScoreCache, load_search_space
from promptsearch.space import SearchSpace, TaskSpec
from promptsearch.tasks import Task
from promptsearch.templates import Prompt


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    base = load_search_space("search_spaces/movies.yaml")
    return replace(
        base,
        split=replace(base.split, k=4),
        evolution=replace(base.evolution, generations=2, population=4, parents=2),
        templates=replace(base.templates, n_initial=8),
        final=replace(base.final, top=3, test_limit=16),
    )


def _fit(space: SearchSpace, task: Task, model: LoadedModel, out: Path, n: int, **kw: object) -> PromptSearch:
    return PromptSearch(space, task=task, model=model, n_trials=n, out_dir=out, **kw).fit()  # type: ignore[arg-type]


def test_fit_writes_leaderboard(
    space: SearchSpace, toy_task: Task, tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    search = _fit(space, toy_task, tiny_causal, tmp_path, 8)
    board = search.leaderboard_
    assert 2 <= len(board.rows) <= 5  # the top 3, an ensemble of them, the baseline
    assert [r.rank for r in board.rows] == list(range(1, len(board.rows) + 1))
    assert all(r.test_n == 16 and r.test_accuracy is not None for r in board.rows)
    assert sum(r.origin == "baseline" for r in board.rows) == 1
    winner = board.rows[0]  # the baseline, or a prompt that beat it in the paired test
    level = space.selection.level
    assert winner.origin == "baseline" or (winner.gain_p is not None and winner.gain_p < level)
    others = [r for r in board.rows[1:] if r.origin != "baseline"]
    assert [r.dev_score for r in others] == sorted((r.dev_score for r in others), reverse=True) or len(
        {r.dev_n for r in others}
    ) > 1
    saved = json.loads((tmp_path / "leaderboard.json").read_text())
    assert saved["rows"][0]["prompt_id"] == board.rows[0].prompt_id
    assert (tmp_path / "leaderboard.md").read_text().startswith("# Leaderboard")
    assert Prompt.from_dict(board.rows[0].prompt).id == search.best_prompt_.id
    # demonstrations come from train and dev, leave-one-out: no labelled query sees itself
    labelled = [*search.split_.train, *search.split_.dev]
    for row in board.rows:
        prompt = Prompt.from_dict(row.prompt)
        if prompt.selector is not None:
            assert all(q.id not in {d.id for d in prompt.selector.select(q)} for q in labelled)


def test_resume_after_interruption_keeps_trials_and_scores(
    space: SearchSpace, toy_task: Task, tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    class Stop(Exception):
        pass

    def stop_after_3(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if (
            len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)))
            >= 3
        ):
            raise Stop

    with pytest.raises(Stop):
        _fit(space, toy_task, tiny_causal, tmp_path, 8, callbacks=[stop_after_3])
    cached = len(SQLiteScoreCache(tmp_path / "scores.sqlite"))
    assert cached > 0  # scores computed before the crash are on disk
    search = _fit(space, toy_task, tiny_causal, tmp_path, 8)
    finished = [t for t in search.study_.trials if t.state.is_finished()]
    assert len(finished) == 8  # resumed to the budget, not 8 more
    assert json.loads(search.study_.user_attrs["pool_g0"])  # the pool survived
    again = _fit(space, toy_task, tiny_causal, tmp_path, 8)
    assert again.scorer_.stats.instances == 0  # complete study + cache: nothing recomputed
    assert again.leaderboard_.rows[0].prompt_id == search.leaderboard_.rows[0].prompt_id


def test_dev_scorer_reports_each_example_at_a_fixed_step(toy_task: Task, tiny_causal: LoadedModel) -> None:
    from promptsearch.scoring import make_scorer
    from promptsearch.tasks import few_shot_split

    split = few_shot_split(toy_task, k=4, seed=13)
    dev = DevObjective(
        make_scorer(tiny_causal),
        toy_task,
        split.dev,
        get_metric("accuracy"),
        cache=MemoryScoreCache(),
        chunk_size=3,
        seed=1,
    )
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    prompt = Prompt.create("Review: {text}\nSentiment:{label}", "bad,good", toy_task.label_names)
    trial = study.ask()
    value = dev.run(trial, prompt)
    study.tell(trial, value)
    frozen = study.trials[0]
    assert sorted(frozen.intermediate_values) == list(range(len(split.dev)))
    assert value == pytest.approx(sum(frozen.intermediate_values.values()) / len(split.dev))
    assert dev.full(prompt)[0] == pytest.approx(value)
    assert 0 <= frozen.user_attrs["dev_metric"] <= 1


def test_generic_space_requires_a_task(tiny_causal: LoadedModel) -> None:
    from promptsearch.exceptions import ConfigError

    generic = load_search_space("search_spaces/generic-classification.yaml")
    with pytest.raises(ConfigError, match="task"):
        PromptSearch(generic, model=tiny_causal, n_trials=1).fit()


def test_first_trial_is_the_hand_written_baseline(
    space: SearchSpace, toy_task: Task, tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    search = _fit(space, toy_task, tiny_causal, tmp_path, 2)
    first = search.study_.trials[0]
    assert first.user_attrs["template"] == space.templates.seeds[0].template
    assert first.params["verbalizer"] == space.verbalizers.candidates[0]
    assert first.params["n_demos"] == 0 and first.params["calibrate"] is False


def test_similar_demonstrations_use_the_space_embedder(
    space: SearchSpace, toy_task: Task, tiny_causal: LoadedModel, tiny_masked: LoadedModel, tmp_path: Path
) -> None:
    from tests._tiny import save_loaded

    encoder = str(save_loaded(tiny_masked, tmp_path / "encoder"))
    similar = replace(
        space,
        evolution=replace(space.evolution, generations=1),
        demonstrations=replace(
            space.demonstrations, counts=(2,), selection=("similar",), order=("random",), embedder=encoder
        ),
    )
    similar = replace(similar, selection=replace(similar.selection, rule="best"))  # not the baseline
    search = _fit(similar, toy_task, tiny_causal, tmp_path / "run", 3)
    selector = search.best_prompt_.selector
    assert selector is not None and selector.to_dict()["embedder"] == encoder
    # The winner draws demonstrations from train + dev (leave-one-out), never the query itself.
    pool = {e.id for e in (*search.split_.train, *search.split_.dev)}
    query = search.split_.dev[0]
    chosen = {d.id for d in selector.select(query)}
    assert chosen <= pool and query.id not in chosen


def test_task_max_words_cuts_every_split(
    space: SearchSpace, toy_task: Task, tiny_causal: LoadedModel
) -> None:
    cut = replace(space, task=TaskSpec("toy", max_words=2))
    from promptsearch.engine import setup_run

    split = setup_run(cut, task=toy_task, model=tiny_causal).split
    for examples in (split.train, split.dev, split.test):
        assert all(len(e.inputs["text"].split()) <= 2 for e in examples)
        assert any(e.id.endswith("~w2") for e in examples)


def test_resuming_a_study_made_for_something_else_is_refused(
    space: SearchSpace,
    toy_task: Task,
    tiny_causal: LoadedModel,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from promptsearch.exceptions import StudyMismatchError
    from tests import _toy

    one = replace(space, evolution=replace(space.evolution, generations=1))
    _fit(one, toy_task, tiny_causal, tmp_path, 2)
    with caplog.at_level("WARNING", logger="promptsearch.engine._study"):
        _fit(replace(one, final=replace(one.final, top=2)), toy_task, tiny_causal, tmp_path, 2)
    assert "something else" not in caplog.text  # run control only
    with pytest.raises(
        StudyMismatchError, match=r"made for something else: the search space .*--force-resume"
    ):
        _fit(replace(one, calibration=(False,)), toy_task, tiny_causal, tmp_path, 2)
    other_task = _toy.toy_task(seed=1)  # same name (same study name) and labels, other examples
    with pytest.raises(StudyMismatchError, match="the task's examples or labels changed"):
        _fit(one, other_task, tiny_causal, tmp_path, 2)
    with pytest.raises(StudyMismatchError, match=r"the metric: 'accuracy' then, 'macro_f1' now"):
        _fit(replace(one, metric="macro_f1"), toy_task, tiny_causal, tmp_path, 2)
    with caplog.at_level("WARNING", logger="promptsearch.engine._study"):  # forced: resumed, with a warning
        _fit(replace(one, calibration=(False,)), toy_task, tiny_causal, tmp_path, 2, force_resume=True)
    assert "as forced" in caplog.text


def test_a_bad_embedder_fails_before_any_trial(
    space: SearchSpace, toy_task: Task, tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    from promptsearch.exceptions import ConfigError

    bad = replace(
        space,
        demonstrations=replace(
            space.demonstrations,
            counts=(0, 2),
            selection=("similar",),
            embedder=str(tmp_path / "no-such-encoder"),
        ),
    )
    with pytest.raises(ConfigError, match=r"demonstrations\.embedder: Cannot load the sentence encoder"):
        _fit(bad, toy_task, tiny_causal, tmp_path / "run", 2)
    assert not (tmp_path / "run" / "study.db").exists()


def test_task_override_keeps_the_space_word_cut() -> None:
    bbc = load_search_space("search_spaces/bbc-news.yaml")
    assert bbc.with_task("bbc-news").require_task().max_words == bbc.require_task().max_words
    assert bbc.with_task(TaskSpec("bbc-news", max_words=10)).require_task().max_words == 10


def test_a_generation_space_reads_a_file_as_generation(tmp_path: Path) -> None:
    from promptsearch.exceptions import DataError

    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4"}\n{"question": "3+3?", "answer": "6"}\n')
    search = PromptSearch("search_spaces/generic-generation.yaml", task=str(data), backend="fake")
    with pytest.raises(DataError, match=r"no target column 'target'.*--target-field") as info:
        search.fit()
    assert "--label-field" not in str(info.value)

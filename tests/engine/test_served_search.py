"""A search through the ``openai`` backend: the same results as in-process, a server that goes
down in the middle (nothing lost, the search resumes), tuning refused at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from promptsearch.exceptions import ConfigError, ServerError
from promptsearch.models import LoadedModel
from promptsearch.search import PromptSearch, SQLiteScoreCache, load_search_space
from promptsearch.space import BackendSpec, SearchSpace
from promptsearch.tasks import Task
from tests.backends.openai_server import FakeServer, serve


@pytest.fixture(scope="module")
def server(tiny_causal: LoadedModel) -> Iterator[FakeServer]:
    with serve(tiny_causal) as state:
        yield state


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    base = load_search_space("search_spaces/movies.yaml")
    return replace(
        base,
        split=replace(base.split, k=4),
        evolution=replace(base.evolution, generations=1, population=4, parents=2),
        templates=replace(base.templates, n_initial=4),
        final=replace(base.final, top=2, test_limit=12),
        verbalizers=replace(
            base.verbalizers, auto=replace(base.verbalizers.auto, enabled=False)
        ),  # top-k and full distributions differ
    )


def _served(space: SearchSpace, server: FakeServer, **options: object) -> SearchSpace:
    return replace(space, backend=BackendSpec("openai", {"base_url": server.url, "retries": 0, **options}))


def test_a_served_search_finds_what_the_in_process_search_finds(
    space: SearchSpace, server: FakeServer, toy_task: Task, tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    local = PromptSearch(space, task=toy_task, model=tiny_causal, n_trials=5, out_dir=tmp_path / "hf").fit()
    served = PromptSearch(
        _served(space, server), task=toy_task, model="tiny", n_trials=5, out_dir=tmp_path / "served"
    ).fit()
    assert served.scorer_.name == "tiny" and served.scorer_.stats.instances > 0
    hf_rows = {r.prompt_id: r for r in local.leaderboard_.rows}
    common = [r for r in served.leaderboard_.rows if r.prompt_id in hf_rows]
    assert common and any(r.origin == "baseline" for r in common)
    for row in common:  # same prompt, same model: the same scores through HTTP
        assert row.test_accuracy == pytest.approx(hf_rows[row.prompt_id].test_accuracy, abs=1e-9)
        assert row.dev_score == pytest.approx(hf_rows[row.prompt_id].dev_score, abs=1e-4)
    assert served.leaderboard_.rows[0].prompt_id == local.leaderboard_.rows[0].prompt_id
    # the winner exported from the served search predicts through the server (its address is given
    # again: an export records the backend and the served model, not where it runs)
    from promptsearch.export import export_search, load_prompt

    folder = export_search(served, tmp_path / "export")
    texts = [e.inputs["text"] for e in toy_task.examples[:4]]
    predictor = load_prompt(folder, backend_options={"base_url": server.url})
    assert predictor.predict(texts) == load_prompt(folder, model=tiny_causal, backend="hf").predict(texts)


def test_a_server_going_down_mid_search_loses_nothing(
    space: SearchSpace, server: FakeServer, toy_task: Task, tmp_path: Path
) -> None:
    def down_after_2(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) >= 2:
            server.fail_next.extend([503] * 1000)

    served = _served(space, server)
    try:
        with pytest.raises(ServerError, match="resumes when run again"):
            PromptSearch(
                served, task=toy_task, model="tiny", n_trials=6, out_dir=tmp_path, callbacks=[down_after_2]
            ).fit()
    finally:
        server.fail_next.clear()
    assert len(SQLiteScoreCache(tmp_path / "scores.sqlite")) > 0
    search = PromptSearch(
        replace(served, backend=BackendSpec("openai", {"base_url": server.url, "timeout": 30})),
        task=toy_task,
        model="tiny",
        n_trials=6,
        out_dir=tmp_path,
    ).fit()  # another address option: the same study (deployment options are not its identity)
    complete = [t for t in search.study_.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) >= 6 and complete[0].number == 0 and complete[1].number == 1


def test_tuning_on_a_served_model_is_refused_before_any_trial(
    space: SearchSpace, server: FakeServer, toy_task: Task, tmp_path: Path
) -> None:
    tuned = replace(_served(space, server), tuning={"modes": ["none", "prompt_tuning"]})
    with pytest.raises(ConfigError, match=r"prompt_tuning train the model's embeddings.*'openai' backend"):
        PromptSearch(tuned, task=toy_task, model="tiny", n_trials=3, out_dir=tmp_path).fit()
    assert not (tmp_path / "leaderboard.md").exists()

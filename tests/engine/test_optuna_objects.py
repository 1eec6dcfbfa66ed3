"""Samplers and pruners given as Optuna objects, as ``optuna.create_study`` takes them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import optuna

from promptsearch.search import PromptSearch, load_search_space
from promptsearch.tasks import Task
from tests import _toy


def test_sampler_and_pruner_objects_replace_the_space_sections(toy_task: Task, tmp_path: Path) -> None:
    base = load_search_space("search_spaces/movies.yaml")
    space = replace(
        base,
        split=replace(base.split, k=4),
        templates=replace(base.templates, n_initial=4),
        verbalizers=replace(base.verbalizers, auto=replace(base.verbalizers.auto, enabled=False)),
        evolution=replace(base.evolution, generations=1),
        final=replace(base.final, top=2, test_limit=8),
    )
    sampler = optuna.samplers.RandomSampler(seed=7)
    pruner = optuna.pruners.NopPruner()
    search = PromptSearch(
        space, task=toy_task, model=_toy.fake_backend(), n_trials=4, sampler=sampler, pruner=pruner
    ).fit()
    assert search.study_.sampler is sampler and search.study_.pruner is pruner
    assert len([t for t in search.study_.trials if t.state.is_finished()]) == 4
    assert not any(t.state.name == "PRUNED" for t in search.study_.trials)  # the NopPruner prunes nothing

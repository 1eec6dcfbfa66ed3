"""The shipped generation and multiple-choice search spaces: they load, fit their catalog tasks,
and run a short search on the fake backend (over a synthetic BIG-bench archive, no download).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from promptsearch.backends import FakeBackend
from promptsearch.engine import PromptSearch
from promptsearch.exceptions import ConfigError
from promptsearch.generators import TemplateGrammar
from promptsearch.space import BackendSpec, SearchSpace, load_search_space
from promptsearch.tasks import Task, load_task
from promptsearch.tasks import _catalog as catalog_module
from promptsearch.tasks._catalog import CATALOG
from promptsearch.templates import Template
from tests.tasks.test_bigbench import synthetic_tasks, write_sdist

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
CATALOG_SPACES = ["qa-wikidata", "negation", "e2e-nlg", "date-understanding"]


def grammar_templates(space: SearchSpace, answer_slot: bool) -> list[str]:
    grammar = space.templates.grammar
    assert grammar is not None
    built = TemplateGrammar(
        instruction=grammar.instruction,
        input_prefix=grammar.input_prefix,
        connector=grammar.connector,
        answer_prefix=grammar.answer_prefix,
        fields=(grammar.field,),
        answer_slot=answer_slot,
    )
    return [c.template for c in built.enumerate()]


@pytest.mark.parametrize("name", CATALOG_SPACES)
def test_catalog_space_fits_its_task(name: str) -> None:
    space = load_search_space(SPACES / f"{name}.yaml")
    entry = CATALOG.get(name)
    assert space.name == name and space.require_task().name_or_path == name
    assert space.require_task().kind() == entry.task_type != "classification"
    space.check_task_type(entry.task_type)
    generation = entry.task_type == "generation"
    seeds = [s.template for s in space.templates.seeds]
    assert entry.default_template in seeds and 4 <= len(seeds) <= 7
    for template in seeds + grammar_templates(space, answer_slot=not generation):
        Template(template, generation=generation)  # the slot the task type needs, and no other
        assert template.count("{label}") == (0 if generation else 1)
        assert template == template.rstrip(" \t"), "the answer starts right after the prompt"
    # No label words or calibration; a budget a CPU can run.
    assert not space.verbalizers.candidates and not space.verbalizers.auto.enabled
    assert space.calibration == (False,)
    assert 0 in space.demonstrations.counts and max(space.demonstrations.counts) <= 4
    assert space.split.k <= 16 and space.final.test_limit <= 200 and space.budget.trials <= 60
    assert space.metric is None  # the task's metric
    if generation:
        settings = space.generation
        assert settings.max_new_tokens in (None, entry.max_new_tokens)
        assert settings.stop in (None, entry.stop)


def test_generic_generation_space_fits_every_generation_task() -> None:
    space = load_search_space(SPACES / "generic-generation.yaml")
    assert space.task is None and space.generation.max_new_tokens is None  # the task's settings
    for template in [s.template for s in space.templates.seeds] + grammar_templates(space, answer_slot=False):
        Template(template, generation=True)
    for entry in [e for e in map(CATALOG.get, CATALOG.names()) if e.task_type == "generation"]:
        assert space.with_task(entry.name).require_task().kind() == "generation"
    for other in ("movies", "date-understanding"):
        with pytest.raises(ConfigError, match=r"templates\.seeds\[0\]"):
            space.with_task(other)


@pytest.fixture
def bigbench_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catalog tasks read from a small synthetic BIG-bench archive in a private cache."""
    monkeypatch.setenv("PROMPTSEARCH_CACHE", str(tmp_path / "cache"))
    archive = write_sdist(tmp_path / "bigbench-1.0.0.tar.gz", synthetic_tasks(n=40))
    monkeypatch.setattr(catalog_module, "fetch_artifact", lambda artifact: archive)


def _quick(space: SearchSpace) -> SearchSpace:
    """The space on the fake backend, cut down to seconds."""
    return replace(
        space,
        backend=BackendSpec("fake"),
        split=replace(space.split, k=4),
        templates=replace(space.templates, n_initial=4),
        evolution=replace(space.evolution, generations=1, population=2, parents=2),
        final=replace(space.final, top=2, test_limit=8),
    )


def _search(space: SearchSpace, task: Task | str, tmp_path: Path) -> PromptSearch:
    return PromptSearch(
        _quick(space), task=task, model=FakeBackend(seed=0), n_trials=4, out_dir=tmp_path
    ).fit()


@pytest.mark.parametrize("name", CATALOG_SPACES)
def test_catalog_space_runs_on_the_fake_backend(name: str, bigbench_cache: None, tmp_path: Path) -> None:
    space = load_search_space(SPACES / f"{name}.yaml")
    task = load_task(name)
    search = _search(space, task, tmp_path)
    board = search.leaderboard_
    assert board.metric == task.metric and board.rows and board.rows[0].test_score is not None
    assert search.best_prompt_.template.generation == (task.task_type == "generation")


def test_generic_generation_space_runs_on_a_file(tmp_path: Path) -> None:
    data = tmp_path / "answers.jsonl"
    rows = [f'{{"text": "What is {i} plus {i}?", "target": ["{2 * i}"]}}' for i in range(40)]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    search = _search(load_search_space(SPACES / "generic-generation.yaml"), str(data), tmp_path / "out")
    assert search.task_.task_type == "generation" and search.leaderboard_.metric == "exact_match"

"""One run set-up (``engine/_setup.py``): overrides, storage and cache defaults, the order of the
checks, and the entry points that use it."""

from __future__ import annotations

import ast
from pathlib import Path

import optuna
import pytest

from promptsearch.backends import FakeBackend
from promptsearch.engine import SpaceOverrides, run_cache, run_storage, setup_run
from promptsearch.exceptions import ConfigError
from promptsearch.search import MemoryScoreCache, PromptSearch, SQLiteScoreCache
from promptsearch.space import BackendSpec
from promptsearch.study import make_storage
from promptsearch.tasks import Task
from tests.engine.test_fake_backend import classification_space

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_storage_is_the_study_file_already_in_the_output_folder(tmp_path: Path) -> None:
    db, journal = f"sqlite:///{tmp_path.resolve()}/study.db", f"journal:{tmp_path.resolve()}/study.log"
    assert run_storage("postgresql://h/db", tmp_path, workers=3) == "postgresql://h/db"  # given: kept
    assert run_storage(None, None) is None  # no folder: in memory
    assert run_storage(None, tmp_path) == db
    assert run_storage(None, tmp_path, workers=2) == journal  # workers: a journal takes no lock
    (tmp_path / "study.log").touch()  # an earlier run of several workers: one process resumes it
    assert run_storage(None, tmp_path) == journal
    (tmp_path / "study.db").touch()  # an earlier run of one process: several workers resume it
    assert run_storage(None, tmp_path) == db
    assert run_storage(None, tmp_path, workers=3) == db


def test_the_score_cache_follows_the_storage_the_caller_gave(tmp_path: Path) -> None:
    beside = run_cache("auto", f"sqlite:///{tmp_path}/shared.db", tmp_path / "out")
    assert isinstance(beside, SQLiteScoreCache) and beside.path == tmp_path / "shared.db.scores.sqlite"
    own = run_cache("auto", None, tmp_path / "out")
    assert isinstance(own, SQLiteScoreCache) and own.path == tmp_path / "out" / "scores.sqlite"
    assert isinstance(run_cache("auto", None, None), MemoryScoreCache)
    named = run_cache(tmp_path / "c.sqlite", None, None)
    assert isinstance(named, SQLiteScoreCache) and named.path == tmp_path / "c.sqlite"
    given = MemoryScoreCache()
    assert run_cache(given, "sqlite:///x.db", tmp_path) is given


def test_space_overrides() -> None:
    space = classification_space()
    space = SpaceOverrides(backend_options={"seed": "3"}).apply(space)
    assert space.backend == BackendSpec("fake", {"seed": "3"})  # the same backend: options added
    other = SpaceOverrides(backend="hf", metric="macro_f1", test_limit=7, top=2).apply(space)
    assert other.backend == BackendSpec("hf", {})  # the space's options were the fake backend's
    assert (other.metric, other.final.test_limit, other.final.top) == ("macro_f1", 7, 2)
    assert SpaceOverrides().apply(space) is space


def test_a_bad_database_fails_before_the_model_loads(toy_task: Task, tmp_path: Path) -> None:
    loaded: list[str] = []

    class Watched(FakeBackend):
        def __init__(self) -> None:
            loaded.append("model")
            super().__init__()

    blocker = tmp_path / "file"
    blocker.write_text("x")
    space = classification_space()
    with pytest.raises(ConfigError, match="is a file"):
        setup_run(space, task=toy_task, model=Watched, storage=f"sqlite:///{blocker}/study.db")
    with pytest.raises(ConfigError, match="metric"):
        setup_run(space, task=toy_task, model=Watched, overrides=SpaceOverrides(metric="no_such_metric"))
    assert loaded == []


def test_a_search_in_a_folder_resumes_the_journal_study_a_workers_run_left(
    toy_task: Task, fake_lm: FakeBackend, tmp_path: Path
) -> None:
    """``PromptSearch(out_dir=...)`` finds the study the CLI's ``--workers`` run wrote, as the CLI does."""
    storage = make_storage(run_storage(None, tmp_path, workers=2))
    optuna.create_study(storage=storage, study_name="earlier")
    search = PromptSearch(classification_space(), task=toy_task, model=fake_lm, n_trials=2, out_dir=tmp_path)
    search.fit()
    assert not (tmp_path / "study.db").exists()
    names = optuna.study.get_all_study_names(storage=make_storage(f"journal:{tmp_path}/study.log"))
    assert set(names) == {"earlier", search.study_.study_name}


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
    }


def test_runs_are_set_up_in_one_place() -> None:
    """Only ``engine/_setup.py`` resolves a run's task, backend, split, storage and cache; the
    entry points call :func:`setup_run` (or the CLI its defaults)."""
    one_place = {
        "resolve_task",
        "load_run_backend",
        "make_storage",
        "cache_for_storage",
        "few_shot_split",
        "data_split",
        "override_final",
    }
    setup = ROOT / "promptsearch" / "engine" / "_setup.py"
    # evaluate() scores one given prompt on a split, with no search space: not a run set-up
    one_prompt = ROOT / "promptsearch" / "evaluation" / "_evaluate.py"
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "promptsearch").rglob("*.py")
        if path not in (setup, one_prompt) and path.parts[-2] not in ("study", "tasks", "space")
        for name in _calls(path) & one_place
    }
    assert not offenders, sorted(offenders)
    assert "setup_run" in _calls(ROOT / "promptsearch" / "engine" / "_search.py")
    assert "setup_run" in _calls(ROOT / "promptsearch" / "protocol" / "_protocol.py")
    cli = _calls(ROOT / "promptsearch" / "cli" / "_search.py")
    assert {"run_storage", "run_cache", "apply"} <= cli

"""Fixtures for the tasks tests: an isolated cache per test, a shared one for the catalog."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from promptsearch.tasks import Task, list_catalog, load_task

# Pre-downloaded artifacts (optional): copied into the session cache to skip pip downloads.
_ARTIFACT_SOURCE = Path(os.environ.get("PROMPTSEARCH_TEST_ARTIFACTS", "/tmp/art"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache at a fresh folder so that no test touches the user's cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("PROMPTSEARCH_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def catalog_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache shared by all catalog tests of the session (downloads and parses happen once)."""
    cache = tmp_path_factory.mktemp("catalog-cache")
    artifacts = cache / "artifacts"
    artifacts.mkdir()
    for entry in list_catalog():
        source = _ARTIFACT_SOURCE / entry.artifact.filename
        if source.is_file():
            shutil.copy(source, artifacts / source.name)
    return cache


@pytest.fixture
def catalog_env(catalog_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Use the shared catalog cache in this test."""
    monkeypatch.setenv("PROMPTSEARCH_CACHE", str(catalog_cache))
    return catalog_cache


@pytest.fixture(scope="session")
def catalog_task(catalog_cache: Path) -> Iterator[Callable[[str], Task]]:
    """Return a loader of catalog tasks that loads each task once per session."""
    loaded: dict[str, Task] = {}

    def get(name: str) -> Task:
        if name not in loaded:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("PROMPTSEARCH_CACHE", str(catalog_cache))
                loaded[name] = load_task(name)
        return loaded[name]

    yield get

"""Tests of the catalog of packaged corpora and of load_task's name resolution."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from promptsearch.exceptions import ConfigError, DataError, UnknownNameError
from promptsearch.tasks import (
    LMBFF_SEEDS,
    CatalogEntry,
    Example,
    Task,
    fetch_task,
    few_shot_split,
    list_catalog,
    load_task,
)
from promptsearch.tasks import _catalog as catalog_module
from promptsearch.tasks._catalog import CATALOG
from promptsearch.tasks._corpora import movies5_label

# name -> (labels in order, minimum examples, minimum per class, test size)
EXPECTED = {
    "movies": (("negative", "positive"), 10_000, 4_900, 1000),
    "movies-5": (("very negative", "negative", "neutral", "positive", "very positive"), 10_500, 1_500, 1000),
    "rt-fresh-rotten": (("rotten", "fresh"), 12_500, 5_300, 1000),
    "rt-subjectivity": (("subjective", "objective"), 13_500, 1_050, 1000),
    "bbc-news": (("business", "entertainment", "politics", "sport", "tech"), 2_100, 340, 500),
}


def test_list_catalog() -> None:
    entries = [e for e in list_catalog() if e.task_type == "classification"]
    assert [e.name for e in entries] == sorted(EXPECTED)
    for entry in entries:
        assert isinstance(entry, CatalogEntry)
        assert entry.labels == EXPECTED[entry.name][0]
        assert set(entry.default_verbalizer) == set(entry.labels)
        assert "{text}" in entry.default_template and "{label}" in entry.default_template
        assert entry.description


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_catalog_task_loads(name: str, catalog_task: Callable[[str], Task]) -> None:
    labels, min_total, min_class, test_size = EXPECTED[name]
    task = catalog_task(name)
    counts = Counter(ex.label for ex in task.examples)
    assert task.name == name and task.input_fields == ("text",)
    assert task.label_names == labels
    assert set(counts) == set(labels)
    assert len(task.examples) >= min_total
    assert min(counts.values()) >= min_class, counts
    assert task.test_size == test_size
    assert task.default_template and set(task.default_verbalizer) == set(labels)
    texts = [ex.inputs["text"] for ex in task.examples]
    assert len(set(texts)) == len(texts), "texts are deduplicated"
    assert all(t and t == t.strip() and "\n" not in t for t in texts)
    for seed in LMBFF_SEEDS:
        split = few_shot_split(task, k=16, seed=seed)
        assert len(split.train) == len(split.dev) == 16 * len(labels)
        assert len(split.test) == test_size


def test_catalog_texts_are_decoded(catalog_task: Callable[[str], Task]) -> None:
    movies = " ".join(ex.inputs["text"] for ex in catalog_task("movies-5").examples)
    assert "clichés" in movies and "Ã©" not in movies  # the VADER file is UTF-8, not latin-1
    bbc = catalog_task("bbc-news").examples
    assert bbc[0].inputs["text"].startswith("Ad sales boost Time Warner profit Quarterly profits")
    assert sum("£" in ex.inputs["text"] for ex in bbc) > 100


def test_movies5_cut_points() -> None:
    cases = {
        -3.9: "very negative",
        -2.01: "very negative",
        -2.0: "negative",
        -1.01: "negative",
        -1.0: "neutral",
        0.0: "neutral",
        1.0: "neutral",
        1.5: "positive",
        2.0: "positive",
        2.01: "very positive",
    }
    assert {s: movies5_label(s) for s in cases} == cases


def test_fetch_task_caches_normalized_jsonl(catalog_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = fetch_task("movies")
    assert path == catalog_env / "data" / "movies-3.3.2-r1.jsonl"
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {"id", "text", "label"}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    def must_not_run(*args: object) -> object:
        raise AssertionError("the cached JSONL should be reused")

    monkeypatch.setattr("promptsearch.tasks._catalog.fetch_artifact", must_not_run)
    assert fetch_task("movies") == path
    assert load_task("movies").examples[0].id == first["id"]


def test_failed_write_leaves_no_partial_file(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = next(e for e in list_catalog() if e.name == "bbc-news")
    fake = replace(entry, name="fake-task", parser=lambda archive, member: [("Some news.", "business")])
    monkeypatch.setitem(CATALOG._entries, "fake-task", fake)
    monkeypatch.setattr(catalog_module, "fetch_artifact", lambda artifact: Path("unused.whl"))
    good = Example.create({"text": "fine"}, "sport")
    bad = Example(id="broken", inputs={}, label="sport")  # no "text": writing fails midway
    monkeypatch.setattr(catalog_module, "_normalize", lambda entry, pairs: [good, bad])
    with pytest.raises(KeyError):
        fetch_task("fake-task")
    assert list((isolated_cache / "data").iterdir()) == []
    monkeypatch.setattr(catalog_module, "_normalize", lambda entry, pairs: [good])
    assert fetch_task("fake-task").read_text(encoding="utf-8").count("\n") == 1


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'movies'"):
        load_task("movie")
    with pytest.raises(UnknownNameError, match="Did you mean 'bbc-news'"):
        fetch_task("bbc_news")
    with pytest.raises(UnknownNameError, match="Available: bbc-news, date-understanding, e2e-nlg, movies"):
        load_task("not a name!")
    with pytest.raises(DataError, match=r"No file or folder at '\./missing\.csv'"):
        load_task("./missing.csv")


def test_load_task_dispatches_files_and_rejects_options_for_catalog(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text("text,label\nyes,1\nno,0\n")
    assert load_task(path, label_names=["neg", "pos"]).label_names == ("neg", "pos")
    assert load_task(str(path)).name == "tiny"
    with pytest.raises(ConfigError, match="takes no loading options"):
        load_task("movies", label_field="x")


def test_import_is_light() -> None:
    code = "import sys, promptsearch.tasks; print(sorted({'torch', 'datasets'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

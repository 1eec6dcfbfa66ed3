"""BIG-bench catalog entries: the one-pass streaming reader on a small synthetic sdist, and the
generation / multiple-choice records it caches.

The real 358 MB sdist is read only by the last test, which is marked slow and skipped unless
``PROMPTSEARCH_BIGBENCH=1`` is set.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptsearch.exceptions import ConfigError, DataError
from promptsearch.tasks import CatalogEntry, Task, fetch_task, few_shot_split, list_catalog, load_task
from promptsearch.tasks import _bigbench as bigbench_module
from promptsearch.tasks import _catalog as catalog_module
from promptsearch.tasks._bigbench import (
    BIGBENCH,
    bigbench_member,
    read_bigbench,
    read_json_members,
    task_examples,
)
from promptsearch.tasks._records import Example

BIGBENCH_ENTRIES = {
    "qa-wikidata": "qa_wikidata",
    "negation": "linguistic_mappings/sentence_negation_json",
    "e2e-nlg": "gem/e2e_nlg",
    "xsum": "gem/xsum",
    "date-understanding": "date_understanding",
}


def _facts(n: int) -> list[dict[str, Any]]:
    """qa_wikidata-like examples: string targets, list targets, and one repeated prompt."""
    out: list[dict[str, Any]] = [
        {"input": f"The capital of country {i} is", "target": f"City{i}"} for i in range(n)
    ]
    out.append({"input": "The genre of  Weird Al is", "target": ["comedy", "parody"]})
    out.append({"input": "The genre of Weird Al is", "target": "parody"})  # repeated: references merged
    out.append({"input": "The language of Nowhere is", "target": []})  # no reference: skipped
    return out


def _dates(n: int) -> list[dict[str, Any]]:
    """date_understanding-like examples: per-example choices in target_scores."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        right = f"05/{i + 1:02d}/2021"
        wrong = [f"0{k}/{i + 1:02d}/2020" for k in range(1, 5)]
        out.append(
            {"input": f"Question {i} about a date?", "target_scores": {**{w: 0 for w in wrong}, right: 1}}
        )
    out.append({"input": "Ambiguous?", "target_scores": {"a": 1, "b": 1}})  # no single answer: skipped
    return out


def synthetic_tasks(n: int = 24) -> dict[str, dict[str, Any]]:
    """task.json contents under the same task names as the BIG-bench catalog entries."""
    return {
        "qa_wikidata": {"name": "qa_wikidata", "examples": _facts(n)},
        "linguistic_mappings/sentence_negation_json": {
            "name": "sentence_negation_json",
            "example_input_prefix": "John thinks ",
            "examples": [
                {"input": f"the cat {i} sleeps", "target": f"the cat {i} does not sleep"} for i in range(n)
            ],
        },
        "gem/e2e_nlg": {
            "name": "e2e_nlg",
            "examples": [
                {
                    "input": f"name: Place{i // 2}, food: Thai",
                    "target": f"Place{i // 2} serves Thai food, take {i}.",
                }
                for i in range(2 * n)
            ],
        },
        "gem/xsum": {
            "name": "xsum",
            "examples": [{"input": f"Para one {i}.\nPara two.", "target": f"Summary {i}."} for i in range(n)],
        },
        "date_understanding": {"name": "date_understanding", "examples": _dates(n)},
        "intent_recognition": {
            "name": "intent_recognition",
            "examples": [
                {"input": f"play song {i}", "target_scores": {"play_music": 1, "get_weather": 0}}
                for i in range(n)
            ],
        },
    }


def write_sdist(path: Path, tasks: dict[str, dict[str, Any]], *, extra: bool = True) -> Path:
    """A .tar.gz laid out like the bigbench sdist, with unrelated members around the tasks."""
    with tarfile.open(path, "w:gz") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        if extra:
            add("bigbench-1.0.0/setup.py", b"print('not read')\n")
            add(bigbench_member("other_task").replace("task.json", "README.md"), b"# other\n")
        for task, content in tasks.items():
            add(bigbench_member(task), json.dumps(content).encode("utf-8"))
    return path


@pytest.fixture
def sdist(tmp_path: Path) -> Path:
    return write_sdist(tmp_path / "bigbench-1.0.0.tar.gz", synthetic_tasks())


@pytest.fixture
def served(sdist: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Serve the synthetic sdist as the pinned artifact and count passes over it."""
    calls: dict[str, Any] = {"fetch": 0, "passes": []}

    def fake_fetch(artifact: Any) -> Path:
        assert artifact == BIGBENCH
        calls["fetch"] += 1
        return sdist

    real = bigbench_module.read_json_members

    def counting(archive: Path, members: Any) -> dict[str, Any]:
        calls["passes"].append(sorted(members))
        return real(archive, members)

    monkeypatch.setattr(catalog_module, "fetch_artifact", fake_fetch)
    monkeypatch.setattr(bigbench_module, "read_json_members", counting)
    return calls


def test_catalog_lists_the_bigbench_tasks_with_their_types() -> None:
    entries = {e.name: e for e in list_catalog()}
    assert set(BIGBENCH_ENTRIES) <= set(entries)
    for name, task in BIGBENCH_ENTRIES.items():
        entry = entries[name]
        assert entry.artifact == BIGBENCH and entry.member == bigbench_member(task)
        assert entry.license == "Apache-2.0" and entry.labels == () and not entry.default_verbalizer
        assert "{text}" in entry.default_template
        if entry.task_type == "generation":
            assert "{label}" not in entry.default_template and entry.stop and entry.max_new_tokens
        else:
            assert entry.task_type == "multiple_choice" and entry.default_template.count("{label}") == 1
    assert {entries[n].metric for n in ("qa-wikidata", "negation")} == {"exact_match"}
    assert (entries["e2e-nlg"].metric, entries["xsum"].metric) == ("chrf", "rouge_l")
    assert all(entries[n].task_type == "classification" for n in ("movies", "bbc-news"))


def test_bigbench_archive_has_its_real_checksum() -> None:
    # Measured on the registry's bigbench-1.0.0.tar.gz (358 MB): a typo here breaks every fetch.
    assert BIGBENCH.filename == "bigbench-1.0.0.tar.gz" and BIGBENCH.sdist
    assert len(BIGBENCH.sha256) == 64 and int(BIGBENCH.sha256, 16)


def test_streaming_reader_parses_only_the_members_asked_for(sdist: Path) -> None:
    members = [bigbench_member("gem/xsum"), bigbench_member("qa_wikidata")]
    parsed = read_json_members(sdist, members)
    assert sorted(parsed) == sorted(members)
    assert parsed[members[0]]["name"] == "xsum"
    with pytest.raises(DataError, match=r"no member\(s\).*no_such_task"):
        read_json_members(sdist, [bigbench_member("no_such_task")])


def test_streaming_reader_reports_broken_archives(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a gzip file at all")
    with pytest.raises(DataError, match="delete it from the cache"):
        read_json_members(broken, [bigbench_member("qa_wikidata")])
    bad_json = write_sdist(tmp_path / "bad.tar.gz", {})
    with tarfile.open(bad_json, "w:gz") as tar:
        info = tarfile.TarInfo(bigbench_member("qa_wikidata"))
        info.size = 3
        tar.addfile(info, io.BytesIO(b"{x]"))
    with pytest.raises(DataError, match="not valid JSON"):
        read_json_members(bad_json, [bigbench_member("qa_wikidata")])


def test_targets_become_references_and_target_scores_choices() -> None:
    tasks = synthetic_tasks(n=3)
    facts = task_examples(tasks["qa_wikidata"], "generation", "qa")
    assert [ex.references for ex in facts[:1]] == [("City0",)]
    assert facts[3].references == ("comedy", "parody") and facts[3].label == "" and not facts[3].choices
    assert len(facts) == 5  # the example without a reference is skipped
    dates = task_examples(tasks["date_understanding"], "multiple_choice", "dates")
    assert len(dates) == 3  # the ambiguous one is skipped
    first = dates[0]
    assert len(first.choices) == 5 and first.label == "05/01/2021" and first.choice_index == 4
    intents = task_examples(tasks["intent_recognition"], "classification", "intents")
    assert {ex.label for ex in intents} == {"play_music"} and not intents[0].choices
    with pytest.raises(DataError, match="cannot be a generation task"):
        task_examples(tasks["date_understanding"], "generation", "dates")
    with pytest.raises(DataError, match="name a subtask"):
        task_examples({"name": "logical_deduction"}, "multiple_choice", "logical_deduction")


def test_read_bigbench_reads_several_tasks_under_their_types(sdist: Path) -> None:
    qa, dates = bigbench_member("qa_wikidata"), bigbench_member("date_understanding")
    out = read_bigbench(sdist, {(qa, "generation"), (dates, "multiple_choice"), (dates, "classification")})
    assert set(out) == {(qa, "generation"), (dates, "multiple_choice"), (dates, "classification")}
    assert out[(dates, "multiple_choice")][0].choices and not out[(dates, "classification")][0].choices


def test_first_fetch_prepares_every_bigbench_entry_in_one_pass(
    served: dict[str, Any], isolated_cache: Path
) -> None:
    path = fetch_task("negation")
    assert served["fetch"] == 1
    assert served["passes"] == [sorted(bigbench_member(t) for t in BIGBENCH_ENTRIES.values())]
    names = {p.name for p in (isolated_cache / "data").iterdir()}
    assert names == {f"{name}-1.0.0-r1.jsonl" for name in BIGBENCH_ENTRIES}
    assert path.name == "negation-1.0.0-r1.jsonl"
    for name in BIGBENCH_ENTRIES:  # Every other entry now loads without touching the archive.
        fetch_task(name)
    assert served["fetch"] == 1 and len(served["passes"]) == 1
    # force parses again, and only the entry asked for (the others are cached).
    fetch_task("xsum", force=True)
    assert served["passes"][-1] == [bigbench_member("gem/xsum")]


def test_cached_records_per_task_type(served: dict[str, Any]) -> None:
    def first(name: str) -> dict[str, Any]:
        return dict(json.loads(fetch_task(name).read_text(encoding="utf-8").splitlines()[0]))

    assert list(first("negation")) == ["id", "text", "references"]
    assert list(first("date-understanding")) == ["id", "text", "choices", "label"]


def test_generation_tasks_load_with_their_settings(served: dict[str, Any]) -> None:
    qa = load_task("qa-wikidata")
    assert qa.task_type == "generation" and qa.metric == "exact_match" and qa.label_names == ()
    assert (qa.max_new_tokens, qa.stop) == (8, ("\n", ".", ","))
    by_text = {ex.inputs["text"]: ex for ex in qa.examples}
    assert by_text["The genre of Weird Al is"].references == ("comedy", "parody")  # merged, deduplicated
    assert "The language of Nowhere is" not in by_text
    assert len(qa.examples) == 25
    # Ids are content hashes, as for every other example.
    ex = by_text["The capital of country 0 is"]
    assert ex.id == Example.create({"text": ex.inputs["text"]}, references=["City0"]).id

    e2e = load_task("e2e-nlg")
    assert e2e.metric == "chrf" and len(e2e.examples) == 24
    assert all(len(ex.references) == 2 for ex in e2e.examples)
    xsum = load_task("xsum")
    assert xsum.metric == "rouge_l" and xsum.examples[0].inputs["text"] == "Para one 0. Para two."
    assert xsum.test_size == 12  # at most half of the examples
    split = few_shot_split(xsum, k=4, seed=13)
    assert (len(split.train), len(split.dev), len(split.test)) == (4, 4, 12)
    assert not {e.id for e in split.train + split.dev} & {e.id for e in split.test}


def test_multiple_choice_task_loads(served: dict[str, Any]) -> None:
    task = load_task("date-understanding")
    assert task.task_type == "multiple_choice" and task.metric == "accuracy"
    assert len(task.examples) == 24 and all(ex.label in ex.choices for ex in task.examples)
    assert task.default_template == "Q: {text}\nA:{label}"
    split = few_shot_split(task, k=4, seed=21)
    assert len(split.train) == len(split.dev) == 4


def test_multiple_choice_repeats_with_different_answers_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = synthetic_tasks(n=8)
    examples = tasks["date_understanding"]["examples"]
    examples.append(dict(examples[0]))  # the same question again: kept once
    examples.append({"input": examples[1]["input"], "target_scores": {**examples[1]["target_scores"]}})
    flipped = examples[-1]["target_scores"]
    right = next(c for c, s in flipped.items() if s)
    flipped[right], flipped[next(c for c, s in flipped.items() if not s)] = 0, 1  # a conflicting answer
    archive = write_sdist(tmp_path / "bb.tar.gz", tasks)
    monkeypatch.setattr(catalog_module, "fetch_artifact", lambda artifact: archive)
    task = load_task("date-understanding")
    texts = [ex.inputs["text"] for ex in task.examples]
    assert texts.count(examples[0]["input"]) == 1 and examples[1]["input"] not in texts
    assert len(task.examples) == 7


def test_catalog_entry_checks_its_fields() -> None:
    entry = next(e for e in list_catalog() if e.name == "negation")
    fields = {f: getattr(entry, f) for f in ("name", "description", "artifact", "member")}
    with pytest.raises(ConfigError, match="exactly one of parser= and reader="):
        CatalogEntry(**fields, task_type="generation")
    with pytest.raises(ConfigError, match="give a generation task a reader="):
        CatalogEntry(**fields, parser=lambda archive, member: [], task_type="generation")
    with pytest.raises(ConfigError, match="classification tasks need labels"):
        CatalogEntry(**fields, reader=read_bigbench, task_type="generation", labels=("a", "b"))
    with pytest.raises(ConfigError, match="classification tasks need labels"):
        CatalogEntry(**fields, reader=read_bigbench)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("PROMPTSEARCH_BIGBENCH") != "1",
    reason="reads the real 358 MB BIG-bench sdist; set PROMPTSEARCH_BIGBENCH=1 to run it",
)
def test_real_bigbench_tasks(catalog_task: Callable[[str], Task]) -> None:
    """The real archive (downloaded once, or copied from $PROMPTSEARCH_TEST_ARTIFACTS).

    Slow and large: runs only with ``PROMPTSEARCH_BIGBENCH=1`` (and not under ``-m 'not slow'``).
    """
    counts = {
        "qa-wikidata": 20_320,
        "negation": 3_040,
        "e2e-nlg": 213,
        "xsum": 1_001,
        "date-understanding": 369,
    }
    for name, count in counts.items():
        task = catalog_task(name)
        assert len(task.examples) == count, name
        assert (
            len({ex.inputs["text"] for ex in task.examples}) == count or task.task_type == "multiple_choice"
        )
        assert all(ex.inputs["text"] and "\n" not in ex.inputs["text"] for ex in task.examples)
        split = few_shot_split(task, k=16, seed=13)
        assert len(split.train) == len(split.dev) == 16
    qa = catalog_task("qa-wikidata")
    assert sum(len(ex.references) > 1 for ex in qa.examples) > 1_000
    assert any(ex.references == ("Portugal",) for ex in qa.examples)
    dates = catalog_task("date-understanding")
    assert all(5 <= len(ex.choices) <= 6 for ex in dates.examples)
    assert catalog_task("e2e-nlg").test_size == 100 and catalog_task("negation").test_size == 500

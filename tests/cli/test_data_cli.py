"""``promptsearch data list|fetch`` for every task type (BIG-bench read from a synthetic archive)."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsearch.cli import main
from promptsearch.tasks import _catalog as catalog_module
from promptsearch.tasks import list_catalog
from tests.tasks.test_bigbench import synthetic_tasks, write_sdist


def _rows(out: str) -> dict[str, list[str]]:
    """Table rows by name: the cells of a Markdown table, without the header and the rule."""
    lines = [line for line in out.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]
    header = cells[0]
    assert header == ["name", "type", "classes", "metric", "description"]
    return {row[0]: row for row in cells[2:]}


def test_data_list_shows_types_and_classes_only_where_there_are_classes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["data", "list"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {e.name for e in list_catalog()}
    assert rows["movies"][1:4] == ["classification", "2", "accuracy"]
    assert rows["bbc-news"][1:4] == ["classification", "5", "accuracy"]
    assert rows["qa-wikidata"][1:4] == ["generation", "", "exact_match"]
    assert rows["e2e-nlg"][1:4] == ["generation", "", "chrf"]
    assert rows["xsum"][1:4] == ["generation", "", "rouge_l"]
    assert rows["date-understanding"][1:4] == ["multiple_choice", "", "accuracy"]
    assert "BIG-bench" in rows["negation"][4]


def test_data_fetch_prepares_a_generation_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROMPTSEARCH_CACHE", str(tmp_path / "cache"))
    archive = write_sdist(tmp_path / "bigbench-1.0.0.tar.gz", synthetic_tasks(n=10))
    monkeypatch.setattr(catalog_module, "fetch_artifact", lambda artifact: archive)
    assert main(["data", "fetch", "e2e-nlg"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("e2e-nlg: 10 examples, generation, metric chrf -> ")
    assert out.strip().endswith("e2e-nlg-1.0.0-r1.jsonl")
    assert main(["data", "fetch", "date-understanding"]) == 0  # prepared by the same pass
    assert "10 examples, multiple_choice, metric accuracy" in capsys.readouterr().out

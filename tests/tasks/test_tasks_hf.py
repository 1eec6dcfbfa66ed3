"""Tests of load_hf_dataset and of load_task's dispatch to it (no hub access needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptsearch.exceptions import DataError
from promptsearch.tasks import Task, load_hf_dataset, load_task
from promptsearch.tasks import _load as load_module

datasets = pytest.importorskip("datasets")


def _dataset() -> Any:
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    return datasets.Dataset.from_dict(
        {"sentence": ["bad film", "good film", "great film"], "label": [0, 1, 1]}, features=features
    )


def test_save_to_disk_dataset_uses_classlabel_names(tmp_path: Path) -> None:
    folder = tmp_path / "sst"
    _dataset().save_to_disk(str(folder))
    task = load_hf_dataset(folder)
    assert task.name == "sst"
    assert task.label_names == ("neg", "pos")
    assert [(ex.inputs["text"], ex.label) for ex in task.examples] == [
        ("bad film", "neg"),
        ("good film", "pos"),
        ("great film", "pos"),
    ]


def test_save_to_disk_datasetdict_split_and_load_task(tmp_path: Path) -> None:
    folder = tmp_path / "dd"
    full = _dataset()
    datasets.DatasetDict({"train": full.select([0, 1]), "test": full.select([2])}).save_to_disk(str(folder))
    task = load_task(folder, split="test", text_fields={"sentence": "review"})
    assert task.input_fields == ("review",)
    assert [ex.inputs["review"] for ex in task.examples] == ["great film"]
    assert load_task(str(folder)).label_names == ("neg", "pos")  # default split "train"
    with pytest.raises(DataError, match=r"no split 'validation'.*\['test', 'train'\]"):
        load_hf_dataset(folder, split="validation")


def test_missing_column_in_dataset_lists_columns(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    _dataset().save_to_disk(str(folder))
    with pytest.raises(DataError, match=r"no label column 'target'.*\['sentence', 'label'\]"):
        load_hf_dataset(folder, label_field="target")


def test_hub_failure_is_wrapped_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Couldn't reach 'someone/data' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"no hub access.*local file.*catalog name") as info:
        load_hf_dataset("someone/data")
    assert isinstance(info.value.__cause__, ConnectionError)
    with pytest.raises(DataError, match="Available: bbc-news"):
        load_task("someone/data")


def test_load_task_sends_hub_ids_to_load_hf_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake(name: str, **kwargs: Any) -> Task:
        calls.append((name, kwargs))
        return Task(name=name, input_fields=("text",), label_names=("a", "b"), examples=())

    monkeypatch.setattr(load_module, "load_hf_dataset", fake)
    assert load_task("rotten_tomatoes", split="validation").name == "rotten_tomatoes"
    assert load_task("stanfordnlp/sst2").name == "stanfordnlp/sst2"
    assert calls == [("rotten_tomatoes", {"split": "validation"}), ("stanfordnlp/sst2", {})]

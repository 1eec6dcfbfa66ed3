"""Tests of load_file: formats, field mapping, label handling and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptsearch.exceptions import DataError, PromptSearchError
from promptsearch.tasks import Example, load_file


def _texts(task_examples: tuple[Example, ...], field: str = "text") -> list[str]:
    return [ex.inputs[field] for ex in task_examples]


def test_csv_with_field_mapping(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text('review,stars,label\n"Great, truly.",5,pos\nDull.,1,neg\n', encoding="utf-8")
    task = load_file(path, text_fields={"review": "text"})
    assert task.name == "reviews"
    assert task.input_fields == ("text",)
    assert task.label_names == ("neg", "pos")
    assert _texts(task.examples) == ["Great, truly.", "Dull."]
    assert [ex.label for ex in task.examples] == ["pos", "neg"]


def test_tsv_sequence_fields_and_custom_label(tmp_path: Path) -> None:
    path = tmp_path / "nli.tsv"
    path.write_text(
        "premise\thypothesis\tgold\nA man runs.\tA person moves.\tyes\nIt rains.\tIt is dry.\tno\n"
    )
    task = load_file(path, text_fields=["premise", "hypothesis"], label_field="gold", name="nli")
    assert task.name == "nli"
    assert task.input_fields == ("premise", "hypothesis")
    assert task.examples[0].inputs == {"premise": "A man runs.", "hypothesis": "A person moves."}
    assert task.label_names == ("no", "yes")


def test_jsonl_default_text_column_and_int_labels(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    rows = [{"sentence": f"s{i}", "label": lab} for i, lab in enumerate([10, 2, 1, 2])]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    task = load_file(path)
    assert task.label_names == ("1", "2", "10")  # numeric order, not string order
    assert _texts(task.examples) == ["s0", "s1", "s2", "s3"]
    assert [ex.label for ex in task.examples] == ["10", "2", "1", "2"]


@pytest.mark.parametrize(
    "payload",
    [
        [{"body": "good", "y": 1}, {"body": "bad", "y": 0}],
        {"data": [{"body": "good", "y": 1}, {"body": "bad", "y": 0}]},
        {"body": ["good", "bad"], "y": [1, 0]},
    ],
)
def test_json_shapes_and_label_names_by_index(tmp_path: Path, payload: object) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(payload))
    task = load_file(
        path, text_fields={"body": "text"}, label_field="y", label_names=["negative", "positive"]
    )
    assert task.label_names == ("negative", "positive")
    pairs = [(ex.inputs["text"], ex.label) for ex in task.examples]
    assert pairs == [("good", "positive"), ("bad", "negative")]


def test_parquet_guesses_only_string_column(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "p.parquet"
    table = pa.table({"id": [1, 2, 3], "review": ["nice", "awful", "fine"], "label": [1, 0, 1]})
    pq.write_table(table, path)
    task = load_file(path)
    assert task.input_fields == ("text",)
    assert _texts(task.examples) == ["nice", "awful", "fine"]
    assert task.label_names == ("0", "1")


def test_duplicates_are_dropped_and_ids_are_content_hashes(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("text,label\n a ,x\na,x\nb,y\n")
    task = load_file(path)
    assert len(task.examples) == 2
    again = load_file(path)
    assert [ex.id for ex in task.examples] == [ex.id for ex in again.examples]
    assert task.examples[0] == Example.create({"text": "a"}, "x")


def test_missing_label_column_lists_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("text,category\nhello,a\n")
    with pytest.raises(DataError, match=r"no label column 'label'.*\['text', 'category'\]"):
        load_file(path)


def test_missing_text_column_lists_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("review,label\nhello,a\n")
    with pytest.raises(DataError, match=r"no column\(s\) \['body'\].*\['review', 'label'\]"):
        load_file(path, text_fields=["body"])


def test_ambiguous_text_column_lists_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("title,body,label\nT,B,a\n")
    with pytest.raises(DataError, match=r"Cannot tell which column.*\['title', 'body', 'label'\]"):
        load_file(path)


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_text("whatever")
    with pytest.raises(DataError, match=r"unknown suffix '\.xlsx'.*\.csv"):
        load_file(path)


@pytest.mark.parametrize(
    ("name", "content"), [("e.csv", "text,label\n"), ("e.jsonl", "\n"), ("e.json", "[]")]
)
def test_empty_file(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match="no rows"):
        load_file(path)


def test_empty_label_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("text,label\nfine,a\nbroken,\n")
    with pytest.raises(DataError, match=r"Row 2 .* empty label"):
        load_file(path)


def test_labels_outside_label_names(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("text,label\nfine,a\nworse,c\n")
    with pytest.raises(DataError, match=r"\['c'\] that are not in label_names"):
        load_file(path, label_names=["a", "b"])


def test_missing_file_and_bad_jsonl_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_file(tmp_path / "nope.csv")
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{oops\n')
    with pytest.raises(PromptSearchError, match="Line 2"):
        load_file(path)


def test_generation_and_multiple_choice_files(tmp_path: Path) -> None:
    from promptsearch.tasks import load_task

    qa = tmp_path / "qa.jsonl"
    rows = [{"question": f"Capital of country {i}?", "target": [f"City {i}", f"city{i}"]} for i in range(6)]
    rows.append({"question": "Two plus two?", "target": "4"})
    qa.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    task = load_task(qa)
    assert task.task_type == "generation" and task.input_fields == ("text",) and task.label_names == ()
    assert task.examples[0].references == ("City 0", "city0") and task.examples[-1].references == ("4",)
    assert task.metric == "exact_match"
    named = tmp_path / "named.csv"
    named.write_text('prompt,answer\n"Say hi",hello\n"Say bye","[""bye"", ""goodbye""]"\n')
    task = load_task(named, text_fields=["prompt"], target_field="answer")
    assert task.task_type == "generation" and task.examples[1].references == ("bye", "goodbye")
    mc = tmp_path / "mc.jsonl"
    mc.write_text(
        json.dumps({"text": "grass", "choices": ["red", "green"], "label": 1})
        + "\n"
        + json.dumps({"text": "sky", "choices": ["blue", "red"], "label": "blue"})
        + "\n"
    )
    task = load_task(mc)
    assert task.task_type == "multiple_choice"
    assert [(e.label, e.choices) for e in task.examples] == [
        ("green", ("red", "green")),
        ("blue", ("blue", "red")),
    ]


@pytest.mark.parametrize(
    ("rows", "kwargs", "message"),
    [
        ([{"text": "q", "target": ""}], {}, "empty reference in column 'target'"),
        ([{"text": "q", "target": []}], {}, "empty reference"),
        ([{"text": "q", "answer": "a"}], {"task_type": "generation"}, "no target column 'target'"),
        ([{"text": "q", "answer": "a"}], {"target_field": "gold"}, "no target column 'gold'"),
        ([{"text": "q", "choices": ["a"], "label": "a"}], {}, "at least two answer choices"),
        ([{"text": "q", "choices": ["a", "b"], "label": "c"}], {}, "neither one of the choices"),
    ],
)
def test_bad_generation_and_choice_files(
    tmp_path: Path, rows: list[dict[str, object]], kwargs: dict[str, object], message: str
) -> None:
    from promptsearch.tasks import load_task

    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError, match=message):
        load_task(path, **kwargs)  # type: ignore[arg-type]


def test_integer_labels_written_as_floats_are_one_class(tmp_path: Path) -> None:
    """Labels ``1`` and ``1.0`` (or ``pos`` and ``pos ``) in one column are one class, not two."""
    path = tmp_path / "mixed.csv"
    path.write_text("text,label\na,1\nb,1.0\nc,0\nd,0.0\ne,1\n")
    task = load_file(path)
    assert task.label_names == ("0", "1")
    assert [e.label for e in task.examples] == ["1", "1", "0", "0", "1"]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text('text,label\na,pos\nb,"pos "\nc,neg\n')
    assert load_file(spaced).label_names == ("neg", "pos")
    fractional = tmp_path / "fractional.csv"
    fractional.write_text("text,label\na,1.5\nb,1\n")
    assert load_file(fractional).label_names == ("1", "1.5")  # not integers: kept as written

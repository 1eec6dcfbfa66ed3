"""Generation studies: the winner's outputs in the HTML and Markdown reports, and metric names
everywhere (never "accuracy")."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from promptsearch.reports import Leaderboard, build_report_data, render_html, write_leaderboard, write_report
from promptsearch.reports._examples import OutputExample, outputs_markdown, winner_outputs
from tests.reports._study import XSS, make_leaderboard
from tests.reports.test_html import _parse

EXAMPLES = (
    {
        "input": {"text": "The country of 1755 Lisbon earthquake is"},
        "output": "Portugal",
        "references": ["Portugal"],
    },
    {"input": {"text": "The capital of France is"}, "output": "the city of Paris", "references": ["Paris"]},
    {"input": {"text": "Water | H2O\nformula"}, "output": XSS, "references": ["H2O", "dihydrogen monoxide"]},
    *(
        {"input": {"text": f"fact number {i} " * 12}, "output": f"answer {i}", "references": [f"answer {i}"]}
        for i in range(5)
    ),
)
TEXT_METRICS = {"exact_match": 0.41, "token_f1": 0.52, "chrf": 0.47, "bleu": 0.2, "rouge_l": 0.5}


def _generation_board(metric: str = "exact_match", **metadata: object) -> Leaderboard:
    board = make_leaderboard()
    rows = tuple(
        replace(
            r,
            verbalizer="",
            calibrate=False,
            metric=metric,
            test_metrics=dict(TEXT_METRICS),
            labels=(),
            confusion=(),
            per_class={},
            examples=EXAMPLES if r.rank == 1 else (),
        )
        for r in board.rows
    )
    return replace(board, rows=rows, metric=metric, metadata={"task_type": "generation", **metadata})


@pytest.fixture()
def generation() -> Leaderboard:
    return _generation_board()


def test_winner_outputs_carry_the_metric_on_each_example(generation: Leaderboard) -> None:
    outputs = winner_outputs(generation)
    assert len(outputs) == len(EXAMPLES)
    assert [e.score for e in outputs[:3]] == [1.0, 0.0, 0.0]  # SQuAD exact match: "the city of Paris" misses
    assert outputs[2].references == ("H2O", "dihydrogen monoxide")
    assert outputs[2].input_text == "Water | H2O\nformula"
    chrf = winner_outputs(replace(generation, metric="chrf"))
    assert chrf[0].score == pytest.approx(1.0) and 0.0 < (chrf[1].score or 0.0) < 1.0


def test_winner_outputs_without_a_text_metric_or_outputs() -> None:
    board = _generation_board(metric="accuracy")
    assert all(e.score is None for e in winner_outputs(board))
    assert all(e.score is None for e in winner_outputs(_generation_board(metric="no_such_metric")))
    assert winner_outputs(make_leaderboard()) == ()
    assert outputs_markdown(make_leaderboard()) == []
    several = OutputExample({"question": "2+2?", "context": "sums"}, "4", ("4",))
    assert several.input_text == "question: 2+2?\ncontext: sums"


def test_html_shows_the_outputs_and_no_confusion_matrix(study: optuna.Study, generation: Leaderboard) -> None:
    data = build_report_data(study, generation)
    assert data.task_type == "generation" and len(data.outputs) == len(EXAMPLES)
    text = render_html(data)
    parsed = _parse(text)
    assert "outputs" in parsed.ids and "outputs-table" in parsed.ids
    assert parsed.rows_in["outputs-table"] == len(EXAMPLES)
    assert "confusion" not in parsed.ids and "confusion-table" not in parsed.ids
    assert len(parsed.ids) == len(set(parsed.ids))
    assert "accuracy" not in text.lower()
    assert "test exact_match [95% CI]" in text and "test token_f1" in text
    assert "<th>verbalizer</th>" not in text and "<th>calibrated</th>" not in text
    assert XSS not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    table = text[text.index('id="outputs-table"') :]
    assert re.search(r"<th>exact_match</th>", table)
    assert '<td class="num">1.000</td>' in table and '<td class="num">0.000</td>' in table


def test_html_of_a_generation_board_without_stored_outputs(study: optuna.Study) -> None:
    board = _generation_board()
    bare = replace(board, rows=tuple(replace(r, examples=()) for r in board.rows))
    text = render_html(build_report_data(study, bare))
    assert "outputs-message" in _parse(text).ids and "accuracy" not in text.lower()


def test_html_of_multiple_choice_has_no_confusion_section(study: optuna.Study) -> None:
    board = make_leaderboard()
    rows = tuple(replace(r, verbalizer="", labels=(), confusion=(), per_class={}) for r in board.rows)
    text = render_html(
        build_report_data(study, replace(board, rows=rows, metadata={"task_type": "multiple_choice"}))
    )
    ids = _parse(text).ids
    assert "confusion" not in ids and "outputs" not in ids


def test_html_shows_gains_when_the_rows_have_them(study: optuna.Study, board: Leaderboard) -> None:
    rows = (replace(board.rows[0], gain=0.05, gain_low=0.01, gain_high=0.09, gain_p=0.02), *board.rows[1:])
    text = render_html(build_report_data(study, replace(board, rows=rows)))
    assert "gain vs baseline [CI]" in text and "+0.050 [+0.010, +0.090] p=0.02" in text
    assert "gain vs baseline" not in render_html(build_report_data(study, board))


def test_markdown_report_has_a_short_table_of_outputs(generation: Leaderboard, tmp_path: Path) -> None:
    paths = write_leaderboard(generation, tmp_path)
    md = paths["md"].read_text(encoding="utf-8")
    assert "accuracy" not in md.lower()
    assert "| test_exact_match |" in md
    _, _, outputs = md.partition("## Winner's outputs (first 5 of 8 stored dev examples)")
    assert outputs, md
    rows = [line for line in outputs.splitlines() if line.startswith("| ")]
    assert rows[0] == "| input | output | references | exact_match |" and len(rows) == 1 + 5
    assert rows[1] == "| The country of 1755 Lisbon earthquake is | Portugal | Portugal | 1.000 |"
    assert rows[3].startswith("| Water \\| H2O\\nformula | ") and "| H2O / dihydrogen monoxide |" in rows[3]
    assert all(len(cell) <= 62 for row in rows for cell in row.split(" | "))  # long inputs are cut
    assert "…" in rows[4]
    header = next(csv.reader(io.StringIO(paths["csv"].read_text(encoding="utf-8"))))
    assert "test_exact_match" in header and "test_accuracy" not in header


def test_classification_markdown_has_no_outputs(board: Leaderboard, tmp_path: Path) -> None:
    md = write_leaderboard(board, tmp_path)["md"].read_text(encoding="utf-8")
    assert "Winner's outputs" not in md and "| test_accuracy |" in md


def test_write_report_of_a_generation_study(
    study: optuna.Study, generation: Leaderboard, tmp_path: Path
) -> None:
    paths = write_report(study, generation, tmp_path)
    for kind in ("md", "html"):
        assert "accuracy" not in paths[kind].read_text(encoding="utf-8").lower(), kind

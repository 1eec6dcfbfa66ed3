"""HTML structure: sections, escaping, self-containment."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import optuna
from optuna.trial import create_trial

from promptsearch.reports import Leaderboard, ReportData, build_report_data, render_html, write_report
from tests.reports._study import XSS, make_leaderboard

SECTION_IDS = (
    "leaderboard",
    "history",
    "distribution",
    "by-operator",
    "by-generation",
    "lineage",
    "importances",
    "confusion",
    "per-class",
    "length",
    "leaderboard-table",
    "history-chart",
    "operator-chart",
    "generation-chart",
    "lineage-tree",
    "confusion-table",
    "per-class-table",
    "length-chart",
)


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.rows_in: dict[str, int] = {}
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "table":
            self._table = a.get("id") or ""
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body and self._table is not None:
            self.rows_in[self._table] = self.rows_in.get(self._table, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        if tag == "table":
            self._table = None


def _parse(text: str) -> _Ids:
    parser = _Ids()
    parser.feed(text)
    return parser


def test_sections_and_rows(data: ReportData) -> None:
    text = render_html(data)
    parsed = _parse(text)
    for sid in SECTION_IDS:
        assert sid in parsed.ids, sid
    assert len(parsed.ids) == len(set(parsed.ids)), "ids must be unique"
    assert parsed.rows_in["leaderboard-table"] == len(data.rows) == 3
    assert parsed.rows_in["confusion-table"] == 2 and parsed.rows_in["per-class-table"] == 2
    assert parsed.rows_in["operator-table"] == len(data.by_operator)
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    assert "importances-chart" in parsed.ids
    assert text.count("<li data-id=") == 3  # lineage subF -> delD -> seedA


def test_data_text_is_escaped(data: ReportData) -> None:
    text = render_html(data)
    assert XSS not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text.lower()  # the report runs no script at all
    # inside SVG tooltips as well: the substitute group's points carry the operator name only,
    # while the lineage detail and prompts (with the payload) are escaped text
    titles = re.findall(r"<title>(.*?)</title>", text, flags=re.S)
    assert titles and all("<" not in t for t in titles)


def test_svg_titles_escape_group_names(study: optuna.Study, board: Leaderboard) -> None:
    attrs = {
        "origin": XSS,
        "generation": 0,
        "candidate_id": "zz",
        "instruction": "",
        "template": "{text} {label}",
    }
    study.add_trial(
        create_trial(value=0.5, params={}, distributions={}, user_attrs=attrs)
    )  # hostile operator
    text = render_html(build_report_data(study, board))
    assert XSS not in text and "&lt;script&gt;" in text
    titles = re.findall(r"<title>(.*?)</title>", text, flags=re.S)
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in t for t in titles)


def test_no_external_resources(data: ReportData) -> None:
    text = render_html(data)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, flags=re.I)
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(" not in text


def test_messages_without_test_scores_or_importances(study: optuna.Study, board: Leaderboard) -> None:
    bare = replace(
        board.rows[0],
        labels=(),
        confusion=(),
        per_class={},
        test_metrics={},
        test_ci_low=None,
        test_ci_high=None,
    )
    empty = optuna.create_study(direction="maximize")
    text = render_html(build_report_data(empty, replace(board, rows=(bare,))))
    ids = _parse(text).ids
    assert "importances-message" in ids and "confusion-table" not in ids
    assert "No trial has a value yet." in text


def test_write_report_writes_four_files(study: optuna.Study, board: Leaderboard, tmp_path: Path) -> None:
    paths = write_report(study, board, tmp_path / "out")
    assert set(paths) == {"md", "json", "csv", "html"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert paths["html"].name == "report.html"
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_markdown_escapes_html_from_texts_and_labels(study: optuna.Study, tmp_path: Path) -> None:
    """Markdown viewers render raw HTML: texts from users' files are escaped there too."""
    hostile = "</textarea><script>alert(1)</script>"
    board = make_leaderboard(task=f"task{hostile}")
    row = replace(board.rows[0], template=f"{{text}} {hostile}{{label}}", verbalizer=f"bad|{hostile}")
    sel = {
        "n": 32,
        "examples": "all",
        "winner": "kept",
        "objective": "accuracy",
        "data_shares": {hostile: 1.0},
    }
    sel["selection_shares"] = {hostile: 1.0}
    board = replace(board, rows=(row, *board.rows[1:]), metadata={"selection": sel})
    text = write_report(study, board, tmp_path / "out")["md"].read_text()
    assert "<script" not in text.lower() and "</textarea" not in text.lower()
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # title, template, words, shares

"""``promptsearch report`` on an SQLite storage, and comparisons across run folders and storages."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import optuna
import pytest

from promptsearch.cli import main
from promptsearch.exceptions import ConfigError
from promptsearch.reports import (
    compare_leaderboards,
    store_leaderboard,
    stored_leaderboard,
    write_leaderboard,
)
from tests.reports._study import make_leaderboard, make_study


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def test_store_and_load_leaderboard(tmp_path: Path) -> None:
    study = make_study(_sqlite(tmp_path))
    assert stored_leaderboard(study) is None
    board = make_leaderboard()
    store_leaderboard(study, board)
    again = optuna.load_study(study_name="demo", storage=_sqlite(tmp_path))
    assert stored_leaderboard(again) == board


def test_cli_report_from_stored_leaderboard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_leaderboard(make_study(_sqlite(tmp_path)), make_leaderboard())
    out = tmp_path / "report"
    assert main(["-q", "report", "--storage", _sqlite(tmp_path), "--study", "demo", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["leaderboard.csv", "leaderboard.json", "leaderboard.md", "report.html"]
    assert 'id="leaderboard-table"' in (out / "report.html").read_text()
    assert "report.html" in capsys.readouterr().out


def test_cli_report_single_study_and_json_fallback(tmp_path: Path) -> None:
    make_study(_sqlite(tmp_path))  # no stored leaderboard: falls back to OUT/leaderboard.json
    write_leaderboard(make_leaderboard(), tmp_path)
    assert main(["-q", "report", "--storage", _sqlite(tmp_path)]) == 0  # --out defaults to the db's folder
    assert (tmp_path / "report.html").is_file()


def test_cli_report_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _sqlite(tmp_path)
    make_study(url, name="a")
    assert main(["-q", "report", "--storage", url, "--out", str(tmp_path / "o")]) == 2
    assert "run `promptsearch search` first" in capsys.readouterr().err
    make_study(url, name="b")
    assert main(["-q", "report", "--storage", url, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "a, b" in err and "--study" in err
    assert main(["-q", "report", "--storage", url, "--study", "zzz", "--out", str(tmp_path / "o")]) == 2
    assert "no study 'zzz'" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path / 'nope.db'}"
    assert main(["-q", "report", "--storage", missing, "--out", str(tmp_path / "o")]) == 2
    assert "No SQLite database" in capsys.readouterr().err and not (tmp_path / "nope.db").exists()
    assert main(["-q", "report"]) == 2
    assert "--compare" in capsys.readouterr().err


def _runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for seed, test, dev in ((13, 0.80, 0.75), (21, 0.70, 0.85)):
        write_leaderboard(make_leaderboard(seed, test, dev, study_name=f"s{seed}"), root / f"seed{seed}")
    return root


def test_compare_two_run_folders(tmp_path: Path) -> None:
    root = _runs(tmp_path)
    data = compare_leaderboards([str(root / "seed13"), str(root / "seed21")])
    (row,) = data.rows
    assert (row.task, row.model, row.n_seeds, row.seeds) == ("sst2", "tiny", 2, (13, 21))
    assert row.test_mean == pytest.approx(0.75) and row.test_std == pytest.approx(
        statistics.stdev([0.8, 0.7])
    )
    assert row.dev_mean == pytest.approx(0.80) and row.dev_std == pytest.approx(
        statistics.stdev([0.75, 0.85])
    )
    assert row.best_seed == 21  # highest dev score, not highest test
    assert compare_leaderboards([str(root)]).rows == data.rows  # a tree is searched recursively


def test_compare_groups_and_storage_sources(tmp_path: Path) -> None:
    root = _runs(tmp_path)
    url = _sqlite(tmp_path)
    store_leaderboard(
        make_study(url, name="other"), make_leaderboard(13, 0.6, 0.6, model="big", study_name="o")
    )
    make_study(url, name="no-board")  # studies without a stored leaderboard are skipped
    data = compare_leaderboards([str(root), url, str(root / "seed13")])  # duplicates count once
    assert [(r.model, r.n_seeds) for r in data.rows] == [("big", 1), ("tiny", 2)]
    assert data.rows[0].test_std is None and data.rows[0].test_mean == pytest.approx(0.6)


def test_compare_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither a folder"):
        compare_leaderboards([str(tmp_path / "missing")])
    with pytest.raises(ConfigError, match="No leaderboard found"):
        compare_leaderboards([str(tmp_path)])


def test_cli_compare_writes_md_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _runs(tmp_path)
    out = tmp_path / "cmp"
    assert (
        main(["-q", "report", "--compare", str(root / "seed13"), str(root / "seed21"), "--out", str(out)])
        == 0
    )
    assert {"comparison.md", "comparison.html"} <= {p.name for p in out.iterdir()}
    assert "0.750 ± 0.071" in (out / "comparison.md").read_text()
    html = (out / "comparison.html").read_text()
    assert 'id="comparison-table"' in html and "<script>alert" not in html and "&lt;script&gt;" in html
    assert json.loads((out / "comparison.json").read_text())["rows"][0]["n_seeds"] == 2
    assert "| sst2 | tiny |" in capsys.readouterr().out
    assert main(["-q", "report", "--compare", str(root)]) == 2  # --out is required

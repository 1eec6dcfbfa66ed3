from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptsearch.cli import main
from promptsearch.cli._common import unescape
from promptsearch.models import LoadedModel
from tests._tiny import save_loaded

ROWS = [
    ("great fun film", "positive"),
    ("boring and bad", "negative"),
    ("I loved it", "positive"),
    ("the worst movie", "negative"),
    ("lovely story", "positive"),
    ("dull acting", "negative"),
] * 6


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_causal: LoadedModel) -> Path:
    return save_loaded(tiny_causal, tmp_path_factory.mktemp("m") / "tiny")


@pytest.fixture()
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.jsonl"
    path.write_text(
        "\n".join(json.dumps({"text": f"{t} {i}", "label": lab}) for i, (t, lab) in enumerate(ROWS))
    )
    return path


def test_unescape() -> None:
    assert unescape(r"Review: {text}\nSentiment:{label}") == "Review: {text}\nSentiment:{label}"
    assert unescape(r"a\tb\\n") == "a\tb\\n"


def test_evaluate_json(model_dir: Path, data_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "-q",
            "evaluate",
            "--task",
            str(data_file),
            "--model",
            str(model_dir),
            "--template",
            r"Review: {text}\nSentiment:{label}",
            "--verbalizer",
            "negative,positive",
            "--split",
            "test",
            "--k",
            "2",
            "--limit",
            "5",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 5 and out["prompt"]["template"] == "Review: {text}\nSentiment:{label}"
    assert 0 <= out["ci_low"] <= out["accuracy"] <= out["ci_high"] <= 1
    assert {"accuracy", "macro_f1", "n", "ci_low", "ci_high"} <= set(out)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--template", "{title} {label}"], "uses field(s) ['title']"),
        (["--template", "{text}"], "needs exactly one"),
        (["--verbalizer", "good"], "gives 1 word(s) but the task has 2 labels"),
        (["--verbalizer", "good,"], "no label word"),
        (["--limit", "0"], "positive number"),
        (["--k", "50"], "lower k"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    model_dir: Path, data_file: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code = main(["-q", "evaluate", "--task", str(data_file), "--model", str(model_dir), "--k", "2", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_unknown_task_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "evaluate", "--task", "movie"]) == 2
    assert "Did you mean 'movies'" in capsys.readouterr().err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--split", "nope"])
    assert info.value.code == 2


def test_data_and_models_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("movies", "movies-5", "rt-fresh-rotten", "rt-subjectivity", "bbc-news"):
        assert name in out
    assert main(["models", "list"]) == 0
    assert "smollm2-135m-instruct" in capsys.readouterr().out


def test_search_generic_space_with_a_renamed_column(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    data = tmp_path / "reviews.csv"
    lines = ["review,sentiment"] + [f"{t} {i},{lab}" for i, (t, lab) in enumerate(ROWS * 2)]
    data.write_text("\n".join(lines) + "\n")
    space = yaml.safe_load(Path("search_spaces/generic-classification.yaml").read_text())
    space["split"] = {"k": 4, "seed": 13}
    space["evolution"] = {"generations": 1, "population": 2, "parents": 1}
    space["final"] = {"top": 2, "test_limit": 10}
    space_file = tmp_path / "space.yaml"
    space_file.write_text(yaml.safe_dump(space))
    out = tmp_path / "run"
    code = main(
        [
            "-q",
            "search",
            str(space_file),
            "--task",
            str(data),
            "--text-field",
            "review",
            "--label-field",
            "sentiment",
            "--model",
            str(model_dir),
            "--trials",
            "3",
            "--out",
            str(out),
            "--export",
            str(tmp_path / "best"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "# Leaderboard" in printed and "Exported the best prompt" in printed
    for name in ("leaderboard.md", "leaderboard.json", "leaderboard.csv", "report.html"):
        assert (out / name).is_file()
    assert (tmp_path / "best" / "prompt.json").is_file()


def test_progress_without_a_terminal_is_a_line_per_tenth(capsys: pytest.CaptureFixture[str]) -> None:
    """Redirected to a file, a bar would redraw itself every second into thousands of lines."""
    from promptsearch.cli._common import progress_bar

    with progress_bar(200, "trials", unit="trial") as bar:
        for _ in range(200):
            bar.set_postfix(best="0.800", refresh=False)
            bar.update(1)
            bar.refresh()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "trials: 20/200 trial (10%), best=0.800" and len(lines) == 10
    assert lines[-1].startswith("trials: 200/200 trial (100%)")
    with progress_bar(0, "final evaluation") as final:
        final.reset(total=7)
        final.update(3)
    assert capsys.readouterr().err.splitlines() == ["final evaluation: 3/7 ex (42%)"]
    with progress_bar(10, "quiet", enabled=False) as off:
        off.update(10)
    assert capsys.readouterr().err == ""

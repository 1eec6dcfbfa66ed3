"""``promptsearch predict``: JSONL and TXT input, atomic output, and errors that exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from promptsearch.cli import main
from promptsearch.export import load_prompt, save_prompt
from promptsearch.models import LoadedModel
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt
from tests._tiny import save_loaded
from tests.export._helpers import QUERIES, prompts, toy_task

TASK = toy_task()


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory, tiny_causal: LoadedModel) -> Path:
    root = tmp_path_factory.mktemp("predict")
    model = save_loaded(tiny_causal, root / "model")
    prompt = prompts(TASK)["synonyms_calibrated_similar"]
    return save_prompt(root / "export", prompt, model=str(model), task=TASK)


def _read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_predict_jsonl(export_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"text": t, "id": i} for i, t in enumerate(QUERIES)]
    rows[0]["label"] = "positive"  # a gold label is kept, not overwritten
    lines = [json.dumps(r) for r in rows]
    src.write_text("\n".join(lines[:4]) + "\n\n" + "\n".join(lines[4:]))  # a blank line is skipped
    out = tmp_path / "sub" / "out.jsonl"
    assert (
        main(
            [
                "-q",
                "predict",
                str(export_dir),
                "--input",
                str(src),
                "--output",
                str(out),
                "--device",
                "cpu",
                "--batch-size",
                "3",
            ]
        )
        == 0
    )
    assert f"Wrote {len(QUERIES)} predictions" in capsys.readouterr().out
    got = _read(out)
    assert [r["id"] for r in got] == list(range(len(QUERIES)))
    assert got[0]["input_label"] == "positive"
    expected = load_prompt(export_dir, device="cpu").predict_proba(QUERIES)
    probs = np.array([[r["probabilities"][lab] for lab in TASK.label_names] for r in got])  # type: ignore[index]
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-5)
    assert [r["label"] for r in got] == [TASK.label_names[i] for i in probs.argmax(axis=1)]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.jsonl"]  # no temporary file left


def test_predict_txt_and_field(export_dir: Path, tmp_path: Path) -> None:
    txt = tmp_path / "in.txt"
    txt.write_text("\n".join(QUERIES) + "\n", encoding="utf-8")
    out_txt = tmp_path / "a.jsonl"
    assert main(["-q", "predict", str(export_dir), "--input", str(txt), "--output", str(out_txt)]) == 0
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("\n".join(json.dumps({"review": t}) for t in QUERIES), encoding="utf-8")
    out_field = tmp_path / "b.jsonl"
    assert (
        main(
            [
                "-q",
                "predict",
                str(export_dir),
                "--input",
                str(jsonl),
                "--output",
                str(out_field),
                "--field",
                "review",
            ]
        )
        == 0
    )
    a, b = _read(out_txt), _read(out_field)
    assert [r["text"] for r in a] == QUERIES and [r["review"] for r in b] == QUERIES
    assert [r["probabilities"] for r in a] == [r["probabilities"] for r in b]


def test_predict_multi_field(tiny_causal: LoadedModel, tmp_path: Path) -> None:
    exs = tuple(
        Example.create({"premise": f"p {i}", "hypothesis": f"h {i}"}, lab)
        for i, lab in enumerate(["yes", "no"] * 2)
    )
    task = Task("nli", ("premise", "hypothesis"), ("yes", "no"), exs)
    prompt = Prompt.create("{premise} Question: {hypothesis}? Answer:{label}", "yes,no", task.label_names)
    folder = save_prompt(tmp_path / "e", prompt, model=tiny_causal, task=task)
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"premise": "I loved it", "hypothesis": "good"}))
    out = tmp_path / "out.jsonl"
    args = ["-q", "predict", str(folder), "--input", str(src), "--output", str(out)]
    assert main([*args, "--model", str(save_loaded(tiny_causal, tmp_path / "m"))]) == 0
    assert _read(out)[0]["label"] in ("yes", "no")
    txt = tmp_path / "in.txt"
    txt.write_text("only one text\n")
    assert main(["-q", "predict", str(folder), "--input", str(txt), "--output", str(out)]) == 2
    src.write_text(json.dumps({"premise": "I loved it"}))
    assert main([*args, "--field", "premise"]) == 2


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ('{"text": "fine"}\n{"text": "broken"\n', ".jsonl", "line 2: not valid JSON"),
        ('{"text": "fine"}\n\n["a list"]\n', ".jsonl", "line 3: expected a JSON object"),
        ('{"text": "fine"}\n{"review": "no text key"}\n', ".jsonl", "line 2: no field ['text']"),
    ],
)
def test_bad_input_exits_2(
    export_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    suffix: str,
    message: str,
) -> None:
    src = tmp_path / f"in{suffix}"
    src.write_text(content)
    out = tmp_path / "out.jsonl"
    assert main(["-q", "predict", str(export_dir), "--input", str(src), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_missing_things_exit_2(export_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.txt"
    src.write_text("fine\n")
    out = str(tmp_path / "out.jsonl")
    cases = [
        ([str(tmp_path / "nope"), "--input", str(src)], "No exported prompt folder"),
        ([str(tmp_path), "--input", str(src)], "has no prompt.json"),
        ([str(export_dir), "--input", str(tmp_path / "missing.jsonl")], "No input file"),
        ([str(export_dir), "--input", str(src), "--batch-size", "0"], "--batch-size must be at least 1"),
        ([str(export_dir), "--input", str(src), "--model", str(tmp_path / "gone")], "No folder at"),
    ]
    for argv, message in cases:
        assert main(["-q", "predict", *argv, "--output", out]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    assert not Path(out).exists()


def test_existing_output_is_kept_on_failure(export_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a"}\n{oops\n')
    assert main(["-q", "predict", str(export_dir), "--input", str(src), "--output", str(out)]) == 2
    assert out.read_text() == "previous results\n"

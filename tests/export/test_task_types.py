"""Exported multiple-choice and generation prompts: save, reload, predict, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from promptsearch.backends import GenerationRequest, GenerationSettings, hf_backend
from promptsearch.cli import main
from promptsearch.exceptions import ConfigError, DataError
from promptsearch.export import load_prompt, read_manifest, save_prompt
from promptsearch.models import LoadedModel
from promptsearch.scoring import predict
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt
from tests._tiny import save_loaded


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_causal: LoadedModel) -> Path:
    return save_loaded(tiny_causal, tmp_path_factory.mktemp("model") / "tiny")


def test_generation_prompt_round_trip(
    model_dir: Path, tiny_causal: LoadedModel, toy_generation_task: Task, tmp_path: Path
) -> None:
    task = toy_generation_task
    demos = task.examples[:2]
    prompt = Prompt.for_task(task, "Question: {text}\nAnswer:", demonstrations=demos)
    folder = save_prompt(tmp_path / "qa", prompt, model=str(model_dir), task=task)
    manifest = read_manifest(folder)
    assert manifest["task"]["task_type"] == "generation" and manifest["labels"] == []
    assert (
        manifest["prompt"]["generation"] is True
        and "answer is generated" in (folder / "README.md").read_text()
    )
    predictor = load_prompt(folder, device="cpu")
    questions = [e.inputs["text"] for e in task.examples[5:9]]
    got = predictor.predict(questions)
    direct = predict(hf_backend(tiny_causal), prompt, task, [Example.create({"text": q}) for q in questions])
    assert got == list(direct.predictions.predicted)
    first = prompt.instance({"text": questions[0]})
    settings = GenerationSettings(stop=("\n", prompt.separator))
    expected = hf_backend(tiny_causal).generate([GenerationRequest(first.context, first.prefix)], settings)
    assert got[0] == expected[0].strip()
    with pytest.raises(ConfigError, match="no probabilities"):
        predictor.predict_proba(questions)


def test_multiple_choice_prompt_round_trip(
    model_dir: Path, tiny_causal: LoadedModel, toy_choice_task: Task, tmp_path: Path
) -> None:
    task = toy_choice_task
    prompt = Prompt.for_task(task, "Q: What color is {text}?\nA:{label}")
    folder = save_prompt(tmp_path / "mc", prompt, model=str(model_dir), task=task)
    predictor = load_prompt(folder, device="cpu")
    rows = [{"text": e.inputs["text"], "choices": list(e.choices)} for e in task.examples[:5]]
    answers = predictor.predict(rows)
    probs = predictor.predict_proba(rows)
    assert all(a in r["choices"] for a, r in zip(answers, rows))
    assert all(p.shape == (4,) and np.isclose(p.sum(), 1.0) for p in probs)
    assert answers == [r["choices"][int(p.argmax())] for r, p in zip(rows, probs)]
    with pytest.raises(DataError, match="choices"):
        predictor.predict([{"text": "the sky"}])


def test_cli_predict_writes_outputs_and_answers(
    model_dir: Path, toy_generation_task: Task, toy_choice_task: Task, tmp_path: Path
) -> None:
    qa = save_prompt(
        tmp_path / "qa",
        Prompt.for_task(toy_generation_task, "Q: {text}\nA:"),
        model=str(model_dir),
        task=toy_generation_task,
    )
    src = tmp_path / "q.jsonl"
    src.write_text(
        "\n".join(json.dumps({"text": q}) for q in ("Capital of Peru?", "Capital of Oman?")) + "\n"
    )
    assert main(["-q", "predict", str(qa), "--input", str(src), "--output", str(tmp_path / "a.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(isinstance(r["output"], str) and "probabilities" not in r for r in rows)
    mc = save_prompt(
        tmp_path / "mc",
        Prompt.for_task(toy_choice_task, "{text} is{label}"),
        model=str(model_dir),
        task=toy_choice_task,
    )
    src.write_text(json.dumps({"text": "grass", "choices": ["red", "green"]}) + "\n")
    assert main(["-q", "predict", str(mc), "--input", str(src), "--output", str(tmp_path / "b.jsonl")]) == 0
    row = json.loads((tmp_path / "b.jsonl").read_text())
    assert row["answer"] in ("red", "green") and set(row["probabilities"]) == {"red", "green"}

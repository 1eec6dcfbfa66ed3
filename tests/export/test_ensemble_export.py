"""Exported prompt ensembles: the manifest, the card, reload and predictions equal to scoring the
ensemble directly, multiple choice, and ``promptsearch predict``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from promptsearch.backends import hf_backend
from promptsearch.cli import main
from promptsearch.exceptions import TemplateError
from promptsearch.export import build_manifest, load_prompt, read_manifest, save_prompt
from promptsearch.models import LoadedModel
from promptsearch.scoring import predict, softmax
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt, PromptEnsemble, Template
from tests._tiny import save_loaded
from tests.export._helpers import QUERIES, direct_probs, prompts, toy_task

TASK = toy_task()
PROMPTS = prompts(TASK)
ENSEMBLE = PromptEnsemble.of(
    [PROMPTS["calibrated"], PROMPTS["similar"], PROMPTS["synonyms_calibrated_similar"]]
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_causal: LoadedModel) -> Path:
    return save_loaded(tiny_causal, tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("ensemble") / "export"
    return save_prompt(folder, ENSEMBLE, model=str(model_dir), task=TASK, metrics={"test_accuracy": 0.75})


def _by_hand(model: LoadedModel, texts: list[str]) -> np.ndarray:
    """softmax of the mean of the members' log-probabilities, each member scored on its own."""
    logs = np.mean([np.log(direct_probs(model, m, texts)) for m in ENSEMBLE.members], axis=0)
    return softmax(logs)


def test_manifest_and_card(export_dir: Path) -> None:
    manifest = read_manifest(export_dir)
    assert manifest["prompt_id"] == ENSEMBLE.id
    assert [m["template"] for m in manifest["prompt"]["ensemble"]] == [
        m.template.source for m in ENSEMBLE.members
    ]
    assert Prompt.from_dict(manifest["prompt"]) == ENSEMBLE
    assert manifest["labels"] == list(TASK.label_names) and manifest["input_fields"] == ["text"]
    card = (export_dir / "README.md").read_text(encoding="utf-8")
    assert "An ensemble of 3 prompts" in card
    for i, member in enumerate(ENSEMBLE.members, start=1):
        assert f"### Member {i} of 3" in card
        assert member.template.source in card
    assert "most similar of" in card and "Contextual calibration: yes." in card
    assert card.index("### Member 1") < card.index("## Metrics")


def test_reload_predicts_like_direct_scoring(export_dir: Path, tiny_causal: LoadedModel) -> None:
    predictor = load_prompt(export_dir, device="cpu")
    assert isinstance(predictor.prompt, PromptEnsemble)
    assert predictor.prompt == ENSEMBLE and predictor.prompt.id == ENSEMBLE.id
    assert predictor.labels == TASK.label_names and predictor.input_fields == ("text",)
    counts: list[int] = []
    probs = predictor.predict_proba(QUERIES, progress=counts.append)
    assert sum(counts) == len(QUERIES)
    expected = _by_hand(tiny_causal, QUERIES)
    assert probs.shape == (len(QUERIES), 2)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)
    examples = [Example.create({"text": t}, "") for t in QUERIES]
    direct = predict(hf_backend(tiny_causal), ENSEMBLE, TASK, examples)
    np.testing.assert_allclose(probs, np.stack(direct.probabilities), rtol=0, atol=1e-6)
    assert predictor.predict(QUERIES) == [TASK.label_names[i] for i in expected.argmax(axis=1)]
    # The ensemble is not its first member.
    assert not np.allclose(probs, direct_probs(tiny_causal, ENSEMBLE.members[0], QUERIES), atol=1e-4)


def test_cli_predict(export_dir: Path, tiny_causal: LoadedModel, tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(
        "\n".join(json.dumps({"text": t, "id": i}) for i, t in enumerate(QUERIES)), encoding="utf-8"
    )
    assert main(["-q", "predict", str(export_dir), "--input", str(src), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    probs = np.array([[r["probabilities"][lab] for lab in TASK.label_names] for r in rows])
    np.testing.assert_allclose(probs, _by_hand(tiny_causal, QUERIES), rtol=0, atol=1e-5)
    assert [r["label"] for r in rows] == [TASK.label_names[i] for i in probs.argmax(axis=1)]


def test_multiple_choice_ensemble_round_trip(
    model_dir: Path, tiny_causal: LoadedModel, toy_choice_task: Task, tmp_path: Path
) -> None:
    task = toy_choice_task
    ensemble = PromptEnsemble.of(
        [
            Prompt.for_task(task, "Q: What color is {text}?\nA:{label}"),
            Prompt.for_task(task, "{text} is{label}"),
        ]
    )
    folder = save_prompt(tmp_path / "mc", ensemble, model=str(model_dir), task=task)
    predictor = load_prompt(folder, device="cpu")
    rows: list[dict[str, Any]] = [
        {"text": e.inputs["text"], "choices": list(e.choices)} for e in task.examples[:5]
    ]
    probs = predictor.predict_proba(rows)
    examples = [Example.create({"text": r["text"]}, "", choices=r["choices"]) for r in rows]
    direct = predict(hf_backend(tiny_causal), ensemble, task, examples)
    for p, d in zip(probs, direct.probabilities):
        np.testing.assert_allclose(p, d, rtol=0, atol=1e-6)
    assert predictor.predict(rows) == [r["choices"][int(p.argmax())] for r, p in zip(rows, probs)]


def test_fields_of_every_member_and_soft_slots() -> None:
    labels = ("negative", "positive")
    a = Prompt.create("{title}: {text}{label}", "bad,good", labels)
    b = Prompt.create("{text} ({source}){label}", "bad,good", labels)
    manifest = build_manifest(PromptEnsemble.of([a, b]), model="some/model")
    assert manifest["input_fields"] == ["title", "text", "source"]
    soft = Prompt(Template("{soft:4} {text}{label}"), a.verbalizer)
    with pytest.raises(TemplateError, match="soft"):
        save_prompt("unused", PromptEnsemble.of([a, soft]), model="some/model")

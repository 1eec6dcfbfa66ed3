"""save_prompt / load_prompt round trips on a tiny saved model, the manifest, and error cases."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from promptsearch.exceptions import ConfigError, DataError, ModelError, TemplateError, UnknownNameError
from promptsearch.export import (
    FORMAT_VERSION,
    PromptPredictor,
    TuningArtifact,
    export_search,
    load_prompt,
    read_manifest,
    save_prompt,
)
from promptsearch.models import LoadedModel
from promptsearch.reports import Leaderboard, LeaderboardRow
from promptsearch.scoring import make_scorer
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt
from promptsearch.tuning import tuning_modes
from tests._tiny import save_loaded
from tests.export._helpers import QUERIES, direct_probs, prompts, toy_task

TASK = toy_task()
PROMPTS = prompts(TASK)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_causal: LoadedModel) -> Path:
    return save_loaded(tiny_causal, tmp_path_factory.mktemp("model") / "tiny")


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_round_trip_matches_direct_scoring(
    name: str, model_dir: Path, tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    prompt = PROMPTS[name]
    folder = save_prompt(tmp_path / "export", prompt, model=str(model_dir), task=TASK, metrics={"acc": 0.5})
    predictor = load_prompt(folder, device="cpu")
    assert predictor.prompt.id == prompt.id and predictor.prompt == prompt
    probs = predictor.predict_proba(QUERIES)
    expected = direct_probs(tiny_causal, prompt, QUERIES)
    assert probs.shape == (len(QUERIES), 2)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    labels = predictor.predict(QUERIES)
    assert labels == [TASK.label_names[i] for i in expected.argmax(axis=1)]
    assert len(set(np.round(probs[:, 1], 6))) > 1  # the tiny model does not answer a constant


@pytest.mark.parametrize("name", ["plain", "synonyms_calibrated_similar"])
def test_two_loads_give_identical_probabilities(name: str, model_dir: Path, tmp_path: Path) -> None:
    folder = save_prompt(tmp_path / "export", PROMPTS[name], model=str(model_dir), task=TASK)
    first = load_prompt(folder, device="cpu").predict_proba(QUERIES)
    second = load_prompt(folder, device="cpu").predict_proba(QUERIES)
    np.testing.assert_array_equal(first, second)  # bit for bit, same settings
    other_batches = load_prompt(folder, device="cpu", batch_size=3).predict_proba(QUERIES)
    np.testing.assert_allclose(first, other_batches, rtol=0, atol=1e-5)  # padding only moves the last bits


def test_calibration_changes_probabilities(model_dir: Path, tmp_path: Path) -> None:
    plain = save_prompt(tmp_path / "a", PROMPTS["plain"], model=str(model_dir))
    calibrated = save_prompt(tmp_path / "b", PROMPTS["calibrated"], model=str(model_dir))
    p = load_prompt(plain, device="cpu").predict_proba(QUERIES)
    c = load_prompt(calibrated, device="cpu").predict_proba(QUERIES)
    assert np.abs(p - c).max() > 1e-3


def test_records_and_texts_agree_and_long_inputs_are_truncated(model_dir: Path, tmp_path: Path) -> None:
    predictor = load_prompt(save_prompt(tmp_path / "e", PROMPTS["demos"], model=str(model_dir)), device="cpu")
    texts = [*QUERIES[:3], "great fun " * 400]  # far beyond the tiny model's 256 positions
    from_texts = predictor.predict_proba(texts)
    from_records = predictor.predict_proba([{"text": t, "extra": 1} for t in texts])
    np.testing.assert_array_equal(from_texts, from_records)
    assert np.isfinite(from_texts).all()
    assert predictor.predict_proba([]).shape == (0, 2)
    assert predictor.predict([]) == []


def test_manifest_content_and_no_pickles(model_dir: Path, tmp_path: Path) -> None:
    folder = save_prompt(
        tmp_path / "export",
        PROMPTS["similar"],
        model=str(model_dir),
        task=TASK,
        metrics={"test_accuracy": np.float64(0.75), "test_n": np.int64(8)},
    )
    manifest = json.loads((folder / "prompt.json").read_text())
    assert manifest["format"] == "promptsearch-prompt" and manifest["format_version"] == FORMAT_VERSION
    assert manifest["prompt"] == PROMPTS["similar"].to_dict()
    assert manifest["prompt_id"] == PROMPTS["similar"].id
    assert manifest["model"] == {
        "id": str(model_dir.resolve()),
        "kind": "causal",
        "dtype": None,
        "max_length": None,
        "backend": "hf",
    }
    assert manifest["task"]["name"] == "toy"
    assert manifest["labels"] == ["negative", "positive"] and manifest["input_fields"] == ["text"]
    assert manifest["metrics"] == {"test_accuracy": 0.75, "test_n": 8}
    assert manifest["tuning"] == {"mode": "none"}
    assert {"promptsearch", "torch", "transformers", "optuna"} <= set(manifest["versions"])
    assert datetime.fromisoformat(manifest["created"]).tzinfo is not None
    files = sorted(p.name for p in folder.rglob("*"))
    assert files == ["README.md", "prompt.json"]
    card = (folder / "README.md").read_text()
    assert "Review: {text}" in card and "test_accuracy" in card and "3 most similar" in card
    assert read_manifest(folder) == manifest
    assert load_prompt(folder, device="cpu").metadata == manifest


def test_loaded_model_is_recorded_and_model_override(
    tiny_causal: LoadedModel, model_dir: Path, tmp_path: Path
) -> None:
    folder = save_prompt(tmp_path / "export", PROMPTS["plain"], model=tiny_causal)
    recorded = read_manifest(folder)["model"]
    assert recorded == {
        "id": "tiny-causal-0",
        "kind": "causal",
        "dtype": "float32",
        "max_length": 256,
        "backend": "hf",
    }
    with pytest.raises(ModelError, match="pass model="):
        load_prompt(folder, device="cpu")  # "tiny-causal-0" is no catalog name, folder or reachable hub id
    by_object = load_prompt(folder, model=tiny_causal).predict_proba(QUERIES)
    by_path = load_prompt(folder, model=model_dir, device="cpu").predict_proba(QUERIES)
    np.testing.assert_allclose(by_object, by_path, atol=1e-6)


def test_moved_model_folder_says_how_to_fix(tiny_causal: LoadedModel, tmp_path: Path) -> None:
    where = save_loaded(tiny_causal, tmp_path / "m")
    folder = save_prompt(tmp_path / "export", PROMPTS["plain"], model=where)
    where.rename(tmp_path / "moved")
    with pytest.raises(ModelError, match=r"pass model=.*--model"):
        load_prompt(folder, device="cpu")
    assert load_prompt(folder, model=tmp_path / "moved", device="cpu").predict(["fun"])[0] in TASK.label_names


def test_input_errors(model_dir: Path, tmp_path: Path) -> None:
    predictor = load_prompt(save_prompt(tmp_path / "e", PROMPTS["plain"], model=str(model_dir)), device="cpu")
    with pytest.raises(DataError, match=r"Input 1 lacks the field\(s\) \['text'\]"):
        predictor.predict([{"text": "ok"}, {"review": "missing"}])
    with pytest.raises(DataError, match="not a single one"):
        predictor.predict("one text")
    with pytest.raises(DataError, match="Input 0 is a int"):
        predictor.predict([3])  # type: ignore[arg-type]


def test_multi_field_prompt_needs_records(model_dir: Path, tmp_path: Path) -> None:
    exs = tuple(
        Example.create({"premise": f"p {i}", "hypothesis": f"h {i}"}, lab)
        for i, lab in enumerate(["yes", "no"] * 3)
    )
    task = Task("nli", ("premise", "hypothesis"), ("yes", "no"), exs)
    prompt = Prompt.create("{premise} Question: {hypothesis}? Answer:{label}", "yes,no", task.label_names)
    folder = save_prompt(tmp_path / "e", prompt, model=str(model_dir), task=task)
    predictor = load_prompt(folder, device="cpu")
    assert predictor.input_fields == ("premise", "hypothesis")
    assert predictor.metadata["input_fields"] == ["premise", "hypothesis"]
    assert len(predictor.predict([{"premise": "I loved it", "hypothesis": "it was good"}])) == 1
    with pytest.raises(DataError, match="pass records"):
        predictor.predict(["just a text"])
    with pytest.raises(DataError, match=r"\['hypothesis'\]"):
        predictor.predict([{"premise": "x"}])


def test_prompt_must_fit_task(model_dir: Path, tmp_path: Path) -> None:
    wrong = Prompt.create("{title}:{label}", "bad,good", TASK.label_names)
    with pytest.raises(TemplateError):
        save_prompt(tmp_path / "e", wrong, model=str(model_dir), task=TASK)
    assert not (tmp_path / "e").exists()


def test_overwrite_rules(model_dir: Path, tmp_path: Path) -> None:
    folder = save_prompt(tmp_path / "e", PROMPTS["plain"], model=str(model_dir))
    with pytest.raises(ConfigError, match="overwrite=True"):
        save_prompt(folder, PROMPTS["calibrated"], model=str(model_dir))
    save_prompt(folder, PROMPTS["calibrated"], model=str(model_dir), overwrite=True)
    assert read_manifest(folder)["prompt"]["calibrate"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]  # no temporary folders left
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="holds other files"):
        save_prompt(other, PROMPTS["plain"], model=str(model_dir), overwrite=True)
    with pytest.raises(ConfigError, match="model="):
        save_prompt(tmp_path / "x", PROMPTS["plain"], model=42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "No exported prompt folder"),
        (lambda p: p.mkdir(), "has no prompt.json"),
        (lambda p: (p.mkdir(), (p / "prompt.json").write_text("{oops")), "not valid JSON"),
        (lambda p: (p.mkdir(), (p / "prompt.json").write_text('{"a": 1}')), "not a promptsearch prompt"),
        (
            lambda p: (
                p.mkdir(),
                (p / "prompt.json").write_text('{"format": "promptsearch-prompt", "format_version": 99}'),
            ),
            "Upgrade promptsearch",
        ),
    ],
)
def test_bad_folders(tmp_path: Path, setup: Any, message: str) -> None:
    setup(tmp_path / "e")
    with pytest.raises(DataError, match=message):
        load_prompt(tmp_path / "e")


class _FakeAdapter:
    def __init__(self, mode: str = "lora", suffix: str = ".safetensors") -> None:
        self.mode = mode
        self.suffix = suffix

    def save(self, folder: Path) -> None:
        (folder / "adapter_config.json").write_text(json.dumps({"r": 4}))
        (folder / f"adapter_model{self.suffix}").write_bytes(b"\0" * 8)


def test_tuning_artifact_is_saved_and_its_loader_is_called(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(_FakeAdapter(), TuningArtifact)
    folder = save_prompt(tmp_path / "e", PROMPTS["plain"], model=str(model_dir), tuning=_FakeAdapter())
    tuning = read_manifest(folder)["tuning"]
    assert {k: tuning[k] for k in ("mode", "path")} == {"mode": "lora", "path": "tuning/"}
    assert set(tuning["files"]) == {"adapter_config.json", "adapter_model.safetensors"}  # sha256 each
    saved = sorted(p.name for p in (folder / "tuning").iterdir())
    assert saved == ["adapter_config.json", "adapter_model.safetensors"]
    calls: list[tuple[Any, Path, int | None]] = []

    def loader(loaded: LoadedModel, where: Path, batch_size: int | None) -> Any:
        calls.append((loaded, where, batch_size))
        return make_scorer(loaded, batch_size=batch_size)

    # A mode's loader is read from the one registry of tuning modes.
    monkeypatch.setitem(tuning_modes._entries, "lora", replace(tuning_modes.get("lora"), loader=loader))
    predictor = load_prompt(folder, device="cpu", batch_size=2)
    assert isinstance(predictor, PromptPredictor) and predictor.scorer.batch_size == 2
    assert calls and calls[0][1] == folder / "tuning" and calls[0][2] == 2


def test_tuned_prompt_without_tuning_package_says_what_to_install(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = save_prompt(tmp_path / "e", PROMPTS["plain"], model=str(model_dir), tuning=_FakeAdapter("full"))
    missing = replace(tuning_modes.get("full"), loader="promptsearch._no_such_tuning:load")
    monkeypatch.setitem(tuning_modes._entries, "full", missing)
    with pytest.raises(ModelError, match=r"tuned with mode 'full'.*promptsearch\[peft\]"):
        load_prompt(folder, device="cpu")
    manifest = json.loads((folder / "prompt.json").read_text())
    manifest["tuning"] = {"mode": "lorra"}
    (folder / "prompt.json").write_text(json.dumps(manifest))
    with pytest.raises(UnknownNameError, match="Did you mean 'lora'"):
        load_prompt(folder, device="cpu")


def test_bad_tuning_artifacts(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pickled"):
        save_prompt(
            tmp_path / "e", PROMPTS["plain"], model=str(model_dir), tuning=_FakeAdapter(suffix=".bin")
        )
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    with pytest.raises(ConfigError, match="Unknown tuning mode 'lorra'"):
        save_prompt(tmp_path / "e", PROMPTS["plain"], model=str(model_dir), tuning=_FakeAdapter("lorra"))
    with pytest.raises(ConfigError, match="not a TuningArtifact"):
        save_prompt(tmp_path / "e", PROMPTS["plain"], model=str(model_dir), tuning=object())  # type: ignore[arg-type]
    soft = Prompt.create("{soft:4} {text}:{label}", "bad,good", TASK.label_names)
    with pytest.raises(TemplateError, match="soft"):
        save_prompt(tmp_path / "e", soft, model=str(model_dir))
    with pytest.raises(TemplateError, match="soft"):
        save_prompt(tmp_path / "e", soft, model=str(model_dir), tuning=_FakeAdapter("lora"))
    folder = save_prompt(tmp_path / "e", soft, model=str(model_dir), tuning=_FakeAdapter("prompt_tuning"))
    assert read_manifest(folder)["prompt"]["template"] == "{soft:4} {text}:{label}"


def test_export_search_records_test_metrics(
    tiny_causal: LoadedModel, model_dir: Path, tmp_path: Path
) -> None:
    prompt = PROMPTS["demos"]
    row = LeaderboardRow(
        rank=1,
        prompt_id=prompt.id,
        candidate_id="c",
        instruction=prompt.instruction,
        template=prompt.template.source,
        verbalizer=str(prompt.verbalizer),
        n_demos=3,
        demo_selection="random",
        calibrate=False,
        dev_score=0.8,
        dev_n=8,
        test_metrics={"accuracy": 0.7, "macro_f1": 0.69},
        test_ci_low=0.5,
        test_ci_high=0.9,
        test_n=16,
        prompt=prompt.to_dict(),
    )
    board = Leaderboard(task="toy", model="tiny", seed=13, study_name="s", rows=(row,), n_trials=5)
    search = SimpleNamespace(
        best_prompt_=prompt,
        leaderboard_=board,
        task_=TASK,
        scorer_=make_scorer(tiny_causal),
        space_=SimpleNamespace(task=None),
    )
    folder = export_search(search, tmp_path / "e")  # type: ignore[arg-type]
    manifest = read_manifest(folder)
    assert manifest["max_words"] is None
    assert manifest["metrics"]["test_accuracy"] == 0.7 and manifest["metrics"]["dev_accuracy"] == 0.8
    assert manifest["metrics"]["split_seed"] == 13 and manifest["model"]["id"] == "tiny-causal-0"
    assert manifest["task"]["name"] == "toy" and manifest["prompt_id"] == prompt.id
    probs = load_prompt(folder, model=model_dir, device="cpu").predict_proba(QUERIES)
    np.testing.assert_allclose(probs, direct_probs(tiny_causal, prompt, QUERIES), atol=1e-6)
    with pytest.raises(ConfigError, match="fit"):
        export_search(SimpleNamespace(), tmp_path / "f")  # type: ignore[arg-type]


def test_predictions_cut_inputs_as_the_search_did(
    tiny_causal: LoadedModel, model_dir: Path, tmp_path: Path
) -> None:
    prompt = PROMPTS["plain"]
    folder = save_prompt(tmp_path / "cut", prompt, model=str(model_dir), max_words=2)
    assert read_manifest(folder)["max_words"] == 2
    assert "first 2 words" in (folder / "README.md").read_text()
    probs = load_prompt(folder, model=model_dir, device="cpu").predict_proba(QUERIES)
    short = [" ".join(q.split()[:2]) for q in QUERIES]
    np.testing.assert_allclose(probs, direct_probs(tiny_causal, prompt, short), atol=1e-6)
    assert not np.allclose(probs, direct_probs(tiny_causal, prompt, QUERIES), atol=1e-4)


def test_import_does_not_load_torch() -> None:
    code = "import sys, promptsearch.export, promptsearch.cli._predict; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_export_a_real_search(tiny_causal: LoadedModel, model_dir: Path, tmp_path: Path) -> None:
    import random
    from dataclasses import replace

    from promptsearch.search import PromptSearch, load_search_space

    rng = random.Random(0)
    pos = ["great fun film", "I loved it", "lovely story"]
    neg = ["boring and bad", "dull acting", "awful plot"]
    exs = [Example.create({"text": f"{rng.choice(pos)} {i}"}, "positive") for i in range(24)]
    exs += [Example.create({"text": f"{rng.choice(neg)} {i}"}, "negative") for i in range(24)]
    task = Task("toy", ("text",), ("negative", "positive"), tuple(exs), test_size=8)
    base = load_search_space("search_spaces/movies.yaml")
    space = replace(
        base,
        split=replace(base.split, k=4),
        evolution=replace(base.evolution, generations=1),
        templates=replace(base.templates, n_initial=4),
        final=replace(base.final, top=2, test_limit=8),
    )
    search = PromptSearch(space, task=task, model=tiny_causal, n_trials=3, out_dir=tmp_path / "run").fit()
    folder = export_search(search, tmp_path / "export")
    manifest = read_manifest(folder)
    assert manifest["prompt_id"] == search.best_prompt_.id
    assert manifest["metrics"]["test_accuracy"] == search.leaderboard_.best.test_accuracy
    texts = [e.inputs["text"] for e in search.split_.test]
    probs = load_prompt(folder, model=model_dir, device="cpu").predict_proba(texts)
    np.testing.assert_allclose(probs, direct_probs(tiny_causal, search.best_prompt_, texts), atol=1e-6)


def _tampered(folder: Path, edit: Any) -> Path:
    manifest = json.loads((folder / "prompt.json").read_text())
    edit(manifest)
    (folder / "prompt.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("path-up", DataError, "points outside the export folder"),
        ("path-absolute", DataError, "points outside the export folder"),
        ("pickle-added", DataError, "may hold pickled objects"),
        ("weights-missing", DataError, r"missing \['adapter_model.safetensors'\]"),
        ("weights-replaced", DataError, r"changed \['adapter_model.safetensors'\]"),
        ("old-export-without-weights", ModelError, "holds no .safetensors weights"),
    ],
)
def test_a_hostile_or_damaged_export_is_refused_before_loading(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, error: type, message: str
) -> None:
    """Only the export's own safetensors and JSON, as exported, reach a loader: no path outside
    the folder, no pickle, no missing file replaced by a Hub download."""
    folder = save_prompt(tmp_path / "e", PROMPTS["plain"], model=str(model_dir), tuning=_FakeAdapter())
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "adapter_model.safetensors").write_bytes(b"\0" * 8)
    weights = folder / "tuning" / "adapter_model.safetensors"
    if damage == "path-up":
        _tampered(folder, lambda m: m["tuning"].update(path="../etc"))
    elif damage == "path-absolute":
        _tampered(folder, lambda m: m["tuning"].update(path=str(tmp_path / "etc")))
    elif damage == "pickle-added":
        (folder / "tuning" / "adapter_model.bin").write_bytes(b"\x80\x04N.")
    elif damage == "weights-missing":
        weights.unlink()
    elif damage == "weights-replaced":
        weights.write_bytes(b"\1" * 8)
    else:
        weights.unlink()
        _tampered(folder, lambda m: m["tuning"].pop("files"))
    called: list[Path] = []
    monkeypatch.setitem(
        tuning_modes._entries,
        "lora",
        replace(tuning_modes.get("lora"), loader=lambda loaded, where, batch: called.append(where)),
    )
    with pytest.raises(error, match=message):
        load_prompt(folder, device="cpu")
    assert not called  # refused before any loader ran


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"generation": {"max_new_tokens": "12a", "stop": ["\n"]}}, r"max_new_tokens must be a whole number"),
        ({"generation": {"max_new_tokens": 8, "stop": [""]}}, "generation.stop must be a list of non-empty"),
        ({"generation": "long"}, '"generation" must be an object'),
        ({"max_words": 2.5}, "max_words must be a whole number"),
        ({"tuning": "lora"}, '"model" and "tuning" must be objects'),
    ],
)
def test_a_hand_edited_manifest_says_what_to_fix(
    model_dir: Path, tmp_path: Path, edit: dict[str, Any], message: str
) -> None:
    folder = save_prompt(tmp_path / "e", PROMPTS["plain"], model=str(model_dir))
    _tampered(folder, lambda m: m.update(edit))
    with pytest.raises(DataError, match=message):
        load_prompt(folder, device="cpu")


def test_max_new_tokens_is_a_bounded_whole_number(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptsearch.backends import GenerationSettings

    with pytest.raises(ConfigError, match="must be a whole number, got '12a'"):
        GenerationSettings(max_new_tokens="12a")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"more than the limit of 2048.*PROMPTSEARCH_MAX_NEW_TOKENS"):
        GenerationSettings(max_new_tokens=100_000)
    monkeypatch.setenv("PROMPTSEARCH_MAX_NEW_TOKENS", "200000")
    assert GenerationSettings(max_new_tokens=100_000).max_new_tokens == 100_000

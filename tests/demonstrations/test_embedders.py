"""Sentence encoders for similar demonstrations, on a tiny BERT saved to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from promptsearch.demonstrations import (
    SentenceEncoder,
    SimilarSelector,
    encoders,
    load_embedder,
    selector_from_dict,
)
from promptsearch.exceptions import ConfigError, ModelError, UnknownNameError
from promptsearch.models import LoadedModel
from promptsearch.tasks import Example
from tests._tiny import save_loaded

TEXTS = ["a great fun film", "the worst acting", "great story", "dull and boring plot ever made"]


@pytest.fixture(scope="module")
def encoder_dir(tiny_masked: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_loaded(tiny_masked, tmp_path_factory.mktemp("encoder") / "bert")


def test_embeddings_are_unit_norm_and_do_not_depend_on_the_batch(encoder_dir: Path) -> None:
    enc = SentenceEncoder(str(encoder_dir), device="cpu", batch_size=3)
    together = enc(TEXTS)
    assert together.shape[0] == len(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = SentenceEncoder(str(encoder_dir), device="cpu", batch_size=1)
    np.testing.assert_allclose(alone(TEXTS), together, atol=1e-5)  # padding is masked out
    assert enc([]).shape == (0, together.shape[1])


def test_texts_are_encoded_once(encoder_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    enc = SentenceEncoder(str(encoder_dir), device="cpu")
    calls: list[int] = []
    forward = enc.model.forward

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return forward(*args, **kwargs)

    monkeypatch.setattr(enc.model, "forward", counting)
    first = enc(TEXTS)
    again = enc(TEXTS[::-1])
    assert len(calls) == 1
    np.testing.assert_array_equal(again, first[::-1])


def test_similar_selector_with_an_encoder_round_trips(encoder_dir: Path) -> None:
    pool = [Example.create({"text": t}, "pos" if i % 2 == 0 else "neg") for i, t in enumerate(TEXTS)]
    name = str(encoder_dir)
    selector = SimilarSelector(pool, 2, embed=load_embedder(name), embedder_name=name)
    data = selector.to_dict()
    assert data["embedder"] == name
    rebuilt = selector_from_dict(data)
    assert rebuilt.id == selector.id
    for query in ({"text": "great film"}, {"text": "boring acting"}):
        assert rebuilt.select(query) == selector.select(query)
    # the embedder is part of the id: TF-IDF neighbours are never mistaken for these
    assert SimilarSelector(pool, 2).id != selector.id


def test_selector_follows_the_embedding_geometry() -> None:
    vectors = {"near": [1.0, 0.0], "far": [0.0, 1.0], "mid": [1.0, 1.0], "query": [1.0, 0.1]}
    pool = [Example.create({"text": t}, "x") for t in ("near", "far", "mid")]

    def embed(texts: list[str]) -> np.ndarray:
        return np.array([vectors[t] for t in texts])

    selector = SimilarSelector(pool, 2, embed=embed, embedder_name="fake", order="most_similar_first")
    assert [d.inputs["text"] for d in selector.select({"text": "query"})] == ["near", "mid"]


def test_tfidf_needs_no_encoder_and_bad_names_are_clear(tmp_path: Path) -> None:
    assert load_embedder("tfidf") is None
    assert "all-minilm-l6-v2" in encoders
    with pytest.raises(ModelError, match="sentence encoder"):
        SentenceEncoder(str(tmp_path / "missing"))
    with pytest.raises(UnknownNameError, match="all-minilm-l6-v2"):
        encoders.get("all-minilm-l6")


def test_space_checks_the_embedder() -> None:
    from promptsearch.space import DemoSpace

    assert DemoSpace().embedder == "tfidf"
    assert DemoSpace.from_dict({"selection": ["similar"], "embedder": "all-minilm-l6-v2"}).embedder
    with pytest.raises(ConfigError, match=r"demonstrations\.embedder"):
        DemoSpace.from_dict({"embedder": " "})

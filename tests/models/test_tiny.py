"""The tiny test models keep the promises that other tests rely on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from promptsearch.models import LoadedModel, ModelKind
from tests import _tiny

FACTORIES = [_tiny.tiny_causal, _tiny.tiny_causal_absolute, _tiny.tiny_masked, _tiny.tiny_seq2seq]
FIXTURES = ["tiny_causal", "tiny_causal_absolute", "tiny_masked", "tiny_seq2seq"]


def _ids(lm: LoadedModel, text: str) -> list[int]:
    ids: list[int] = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixture_basics(fixture: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(fixture)
    assert lm.device == "cpu" and lm.dtype == "float32"
    assert lm.tokenizer.pad_token is not None
    assert not lm.model.training
    assert lm.model.get_input_embeddings().weight.shape[0] == len(lm.tokenizer)
    assert lm.max_length in (256, 512)


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize("word", ["positive", "negative", "good", "bad", "terrible", "movie", "Review", "It"])
def test_label_words_are_single_tokens(fixture: str, word: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(fixture)
    assert len(_ids(lm, " " + word)) == 1
    assert len(_ids(lm, word)) == 1


@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize("word", _tiny.MULTI_TOKEN_WORDS)
def test_unseen_words_split(fixture: str, word: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(fixture)
    ids = _ids(lm, " " + word)
    assert len(ids) > 1
    assert lm.tokenizer.unk_token_id not in ids


@pytest.mark.parametrize("fixture", ["tiny_causal", "tiny_causal_absolute"])
def test_byte_level_roundtrip_and_concatenation(fixture: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(fixture)
    prompt, label = "Review: a superb film, 10/10!\nSentiment:", " positive"
    assert lm.tokenizer.decode(_ids(lm, prompt + label)) == prompt + label
    assert _ids(lm, prompt) + _ids(lm, label) == _ids(lm, prompt + label)


def test_special_token_conventions(
    tiny_causal: LoadedModel,
    tiny_causal_absolute: LoadedModel,
    tiny_masked: LoadedModel,
    tiny_seq2seq: LoadedModel,
) -> None:
    tok = tiny_causal.tokenizer
    assert tok("good")["input_ids"][0] == tok.bos_token_id  # Llama-like BOS
    assert tok.pad_token == tok.eos_token == "</s>"
    assert tiny_causal_absolute.tokenizer("good")["input_ids"] == _ids(tiny_causal_absolute, "good")
    mtok = tiny_masked.tokenizer
    ids = mtok("Good movie")["input_ids"]
    assert ids[0] == mtok.cls_token_id and ids[-1] == mtok.sep_token_id
    assert mtok.mask_token == "[MASK]" and mtok.pad_token_id == 0
    stok = tiny_seq2seq.tokenizer
    assert stok("good")["input_ids"][-1] == stok.eos_token_id
    assert _ids(tiny_seq2seq, " good") == _ids(tiny_seq2seq, "good")
    assert stok.convert_tokens_to_ids("<extra_id_0>") != stok.unk_token_id
    assert tiny_seq2seq.model.config.decoder_start_token_id == stok.pad_token_id == 0


@pytest.mark.parametrize("factory", FACTORIES)
def test_factories_are_deterministic_and_seeded(factory: Callable[..., LoadedModel]) -> None:
    a, b, c = factory(), factory(), factory(seed=1)
    wa = next(a.model.parameters())
    assert torch.equal(wa, next(b.model.parameters()))
    assert not torch.equal(wa, next(c.model.parameters()))
    assert a.tokenizer.get_vocab() == b.tokenizer.get_vocab()


def test_factories_leave_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _tiny.tiny_causal()
    assert torch.equal(torch.rand(3), expected)


def test_absolute_positions_matter_rotary_shift_does_not(
    tiny_causal: LoadedModel, tiny_causal_absolute: LoadedModel
) -> None:
    """GPT-2 exposes position-id bugs; a uniform shift is invisible to rotary Llama."""
    ids = torch.tensor([_ids(tiny_causal_absolute, "Review: good movie\nSentiment:")])
    shifted = torch.arange(ids.shape[1])[None] + 3
    with torch.no_grad():
        a = tiny_causal_absolute.model(input_ids=ids).logits.log_softmax(-1)
        b = tiny_causal_absolute.model(input_ids=ids, position_ids=shifted).logits.log_softmax(-1)
        c = tiny_causal.model(input_ids=ids.clamp(max=len(tiny_causal.tokenizer) - 1)).logits.log_softmax(-1)
        d = tiny_causal.model(
            input_ids=ids.clamp(max=len(tiny_causal.tokenizer) - 1), position_ids=shifted
        ).logits.log_softmax(-1)
    assert (a - b).abs().max() > 0.1
    assert (c - d).abs().max() < 1e-4


@pytest.mark.parametrize("fixture", FIXTURES)
def test_scores_vary_across_words(fixture: str, request: pytest.FixtureRequest) -> None:
    """Random weights still give clearly different log-probs (not a near-uniform output)."""
    lm: LoadedModel = request.getfixturevalue(fixture)
    enc = lm.tokenizer("Review: good movie", return_tensors="pt")
    with torch.no_grad():
        if lm.kind is ModelKind.SEQ2SEQ:
            logits = lm.model(**enc, decoder_input_ids=torch.tensor([[0]])).logits
        else:
            logits = lm.model(**enc).logits
    assert logits[0, -1].log_softmax(-1).std() > 0.5

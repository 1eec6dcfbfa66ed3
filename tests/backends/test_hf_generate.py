"""Batched generation: the same texts for any batch size, with or without a shared prefix."""

from __future__ import annotations

import pytest
import torch

from promptsearch.backends import GenerationRequest, GenerationSettings
from promptsearch.backends import hf_backend as make_backend
from promptsearch.backends._tokens import start_tokens
from promptsearch.models import LoadedModel

CAUSAL = ["tiny_causal", "tiny_causal_absolute"]
QUESTIONS = [
    "Question: what is the capital of France?\nAnswer:",
    "The",
    "I loved the music",
    "Review: great fun film\nSentiment:",
    "a b c d e f g h i j k",
    "It was",
    "Question: who is the best actor of the year?\nAnswer:",
    "the plot was boring and the actors were bad , I hated it",
    "ok",
    "Text: the market price of the stock\nTopic:",
    "never again",
    "what is",
    "Question: 2 + 2?\nAnswer:",
    "A",
    "this movie was very very good , I liked the scenes and the music",
    "Input: sad\nOutput:",
    "yes",
    "Label: positive\nText:",
]
PREFIX = (
    "Answer each question with one word.\n\nQuestion: what is the capital of Italy?\nAnswer: Rome\n\n"
    "Question: what is the best movie?\nAnswer: this\n\n"
)
# "e" stops most rows early and at different steps: finished rows leave the batch.
SETTINGS = GenerationSettings(max_new_tokens=8, stop=("e",))


def _texts(lm: LoadedModel, requests: list[GenerationRequest], **options: object) -> list[str]:
    return make_backend(lm, **options).generate(requests, SETTINGS)  # type: ignore[arg-type]


@pytest.mark.parametrize("fixture", CAUSAL)
def test_greedy_texts_are_the_same_for_batch_size_1_and_16(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    lm: LoadedModel = request.getfixturevalue(fixture)
    requests = [GenerationRequest(q) for q in QUESTIONS]
    one = _texts(lm, requests, batch_size=1)
    sixteen = _texts(lm, requests, batch_size=16)
    by_tokens = _texts(lm, requests, batch_tokens=64)  # rows bounded by padded tokens only
    assert one == sixteen == by_tokens
    assert len({len(t) for t in one}) > 2  # rows really finished at different steps


@pytest.mark.parametrize("fixture", CAUSAL)
def test_greedy_texts_equal_transformers_generate(request: pytest.FixtureRequest, fixture: str) -> None:
    lm: LoadedModel = request.getfixturevalue(fixture)
    tok = lm.tokenizer
    settings = GenerationSettings(max_new_tokens=6, stop=())
    texts = make_backend(lm, batch_size=16).generate([GenerationRequest(q) for q in QUESTIONS], settings)
    for text, question in zip(texts, QUESTIONS):
        ids = torch.tensor([start_tokens(tok) + tok(question, add_special_tokens=False)["input_ids"]])
        with torch.inference_mode():
            out = lm.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=6,
                pad_token_id=tok.pad_token_id,
            )
        assert text == tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


@pytest.mark.parametrize("fixture", CAUSAL)
@pytest.mark.parametrize("broadcast", [True, False])
def test_shared_prefix_gives_the_same_texts(
    request: pytest.FixtureRequest, fixture: str, broadcast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptsearch.backends import _hf_tensors

    lm: LoadedModel = request.getfixturevalue(fixture)
    if not broadcast:  # the path for models whose attention cannot broadcast: a copy per row
        monkeypatch.setattr(_hf_tensors, "broadcast_supported", lambda model: False)
    shared = [GenerationRequest(q, PREFIX) for q in QUESTIONS]
    joined = [GenerationRequest(PREFIX + q) for q in QUESTIONS]
    backend = make_backend(lm, batch_size=5)
    with_prefix = backend.generate(shared, SETTINGS)
    plain = make_backend(lm, batch_size=5, prefix_caching=False)
    assert with_prefix == plain.generate(shared, SETTINGS) == plain.generate(joined, SETTINGS)
    assert len(backend.prefixes) == 1  # computed once, kept for the next call
    assert backend.stats.tokens < plain.stats.tokens / 4
    assert backend.generate(shared[:1], SETTINGS) == with_prefix[:1]  # one request: the stored prefix
    assert backend.prefixes.hits == 1


def test_finished_rows_leave_the_batch(tiny_causal: LoadedModel) -> None:
    rows_per_call: list[int] = []
    hook = tiny_causal.model.register_forward_pre_hook(
        lambda module, args, kwargs: rows_per_call.append(int(kwargs["input_ids"].shape[0])), with_kwargs=True
    )
    try:
        texts = _texts(tiny_causal, [GenerationRequest(q) for q in QUESTIONS], batch_size=len(QUESTIONS))
    finally:
        hook.remove()
    assert rows_per_call[0] == len(QUESTIONS)
    assert rows_per_call == sorted(rows_per_call, reverse=True)
    assert rows_per_call[-1] < len(QUESTIONS)
    assert all("e" not in t for t in texts)


def test_sampling_is_seeded_per_request_with_a_prefix(tiny_causal: LoadedModel) -> None:
    sampled = GenerationSettings(max_new_tokens=5, stop=(), do_sample=True, seed=11)
    shared = [GenerationRequest(q, PREFIX) for q in QUESTIONS[:6]]
    backend = make_backend(tiny_causal, batch_size=4)
    first = backend.generate(shared, sampled)
    assert first == make_backend(tiny_causal, batch_size=1).generate(shared, sampled)
    later = GenerationSettings(max_new_tokens=5, stop=(), do_sample=True, seed=12)
    assert backend.generate(shared[1:], later) == first[1:]  # request i uses seed + i

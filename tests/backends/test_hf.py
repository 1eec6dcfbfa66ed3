"""Scorers agree with one-example-at-a-time references, for any batch size and order."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from promptsearch.backends import hf_backend as make_scorer
from promptsearch.backends._tokens import encode_continuations, special_wrapping, start_tokens
from promptsearch.models import LoadedModel
from promptsearch.templates import Prompt, PromptInstance
from tests._tiny import MULTI_TOKEN_WORDS

TEXTS = [
    "great film",
    "the plot was boring and the actors were bad , I hated it",
    "a movie",
    "it is fun",
    "never again . worst story of the year",
    "I loved the music and the scenes were lovely but the ending was dull",
    "ok",
    "magnificent and phenomenal acting from everyone",
]
LABELS = ("negative", "positive")


def _instances(template: str, verbalizer: str, instruction: str = "") -> list[PromptInstance]:
    prompt = Prompt.create(template, verbalizer, LABELS, instruction=instruction)
    return [prompt.instance({"text": t}) for t in TEXTS]


def _causal_reference(lm: LoadedModel, inst: PromptInstance) -> np.ndarray:
    """Unbatched, unpadded, full-logit sum of log-probabilities of each continuation."""
    tok = lm.tokenizer
    enc = encode_continuations(tok, [inst.full_context], [inst.choices], start_tokens(tok))[0]
    out = []
    for cont in enc.continuations:
        ids = torch.tensor([enc.context + cont])
        with torch.no_grad():
            logp = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), -1)
        n = len(enc.context)
        out.append(sum(float(logp[n - 1 + t, c]) for t, c in enumerate(cont)))
    return np.array(out)


@pytest.mark.parametrize("fixture", ["tiny_causal", "tiny_causal_absolute"])
@pytest.mark.parametrize(
    ("template", "verbalizer"),
    [
        ("Review: {text}\nSentiment:{label}", "negative,positive"),
        ("{text} It was {label} .", "bad|terrible,good|great"),
        ("{text} It was{label}", f"dreadful,{MULTI_TOKEN_WORDS[0]}|{MULTI_TOKEN_WORDS[2]}"),
    ],
)
@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_causal_matches_reference(
    request: pytest.FixtureRequest, fixture: str, template: str, verbalizer: str, batch_size: int
) -> None:
    lm: LoadedModel = request.getfixturevalue(fixture)
    instances = _instances(template, verbalizer, instruction="Classify the review.")
    expected = [_causal_reference(lm, i) for i in instances]
    scorer = make_scorer(lm, batch_size=batch_size)
    order = list(range(len(instances)))
    random.Random(batch_size).shuffle(order)
    got = scorer.loglikelihood([instances[i] for i in order])
    for pos, i in enumerate(order):
        np.testing.assert_allclose(got[pos], expected[i], atol=1e-4)


def test_multi_token_words_really_have_several_tokens(tiny_causal: LoadedModel) -> None:
    tok = tiny_causal.tokenizer
    enc = encode_continuations(tok, ["It was"], [[" " + MULTI_TOKEN_WORDS[0], " good"]], [])[0]
    assert len(enc.continuations[0]) > 1
    assert len(enc.continuations[1]) == 1


def test_single_token_path_is_one_call_per_batch(tiny_causal: LoadedModel) -> None:
    scorer = make_scorer(tiny_causal, batch_size=4)
    scorer.loglikelihood(_instances("Review: {text}\nSentiment:{label}", "negative,positive"))
    assert scorer.stats.model_calls == 2  # 8 instances / batch 4, no second pass
    assert scorer.stats.instances == len(TEXTS)


def test_trailing_space_moves_into_continuation(tiny_causal: LoadedModel) -> None:
    scorer = make_scorer(tiny_causal)
    a = scorer.loglikelihood(_instances("Review: {text}\nSentiment: {label}", "negative,positive"))
    b = scorer.loglikelihood(_instances("Review: {text}\nSentiment:{label}", "negative,positive"))
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-5)


def _masked_reference(lm: LoadedModel, inst: PromptInstance) -> np.ndarray:
    tok = lm.tokenizer
    ctx = tok(inst.full_context, add_special_tokens=False)["input_ids"]
    suffix = tok(inst.suffix, add_special_tokens=False)["input_ids"]
    out = []
    for choice in inst.choices:
        word = tok(choice, add_special_tokens=False)["input_ids"]
        head, tail = special_wrapping(tok)
        ids = [*head, *ctx, *[tok.mask_token_id] * len(word), *suffix, *tail]
        start = ids.index(tok.mask_token_id)
        with torch.no_grad():
            logp = torch.log_softmax(lm.model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        out.append(sum(float(logp[start + t, w]) for t, w in enumerate(word)))
    return np.array(out)


@pytest.mark.parametrize("batch_size", [1, 5])
def test_masked_matches_reference(tiny_masked: LoadedModel, batch_size: int) -> None:
    instances = _instances("{text} . It was {label} !", f"bad|{MULTI_TOKEN_WORDS[1]},good")
    expected = [_masked_reference(tiny_masked, i) for i in instances]
    got = make_scorer(tiny_masked, batch_size=batch_size).loglikelihood(instances[::-1])[::-1]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)


def _seq2seq_reference(lm: LoadedModel, inst: PromptInstance) -> np.ndarray:
    tok = lm.tokenizer
    src = (inst.full_context.rstrip(" ") + " " + inst.suffix.lstrip()).strip()
    ids = torch.tensor([tok(src)["input_ids"]])
    out = []
    for choice in inst.choices:
        target = tok(choice.strip(), add_special_tokens=False)["input_ids"]
        dec = torch.tensor([[lm.model.config.decoder_start_token_id, *target[:-1]]])
        with torch.no_grad():
            logp = torch.log_softmax(lm.model(input_ids=ids, decoder_input_ids=dec).logits[0].float(), -1)
        out.append(sum(float(logp[t, w]) for t, w in enumerate(target)))
    return np.array(out)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_seq2seq_matches_reference(tiny_seq2seq: LoadedModel, batch_size: int) -> None:
    instances = _instances("Review: {text} Sentiment: {label}", f"negative|{MULTI_TOKEN_WORDS[3]},positive")
    expected = [_seq2seq_reference(tiny_seq2seq, i) for i in instances]
    got = make_scorer(tiny_seq2seq, batch_size=batch_size).loglikelihood(instances)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)


@pytest.mark.parametrize("fixture", ["tiny_causal", "tiny_causal_absolute"])
@pytest.mark.parametrize(
    "verbalizer", ["negative,positive", f"bad|{MULTI_TOKEN_WORDS[1]},good|{MULTI_TOKEN_WORDS[4]}"]
)
def test_shared_prefix_cache_gives_the_same_scores(
    request: pytest.FixtureRequest, fixture: str, verbalizer: str
) -> None:
    from promptsearch.tasks import Example

    lm: LoadedModel = request.getfixturevalue(fixture)
    demos = tuple(
        Example.create({"text": t}, lab)
        for t, lab in [
            ("the story was lovely and the actors were great", "positive"),
            ("boring plot , bad acting and a dull ending", "negative"),
            ("I loved the music", "positive"),
        ]
    )
    prompt = Prompt.create(
        "Review: {text}\nSentiment:{label}",
        verbalizer,
        LABELS,
        instruction="Classify the sentiment of each movie review.",
        demonstrations=demos,
    )
    instances = [prompt.instance({"text": t}) for t in TEXTS]
    cached = make_scorer(lm, batch_size=3)
    plain = make_scorer(lm, batch_size=3, prefix_caching=False)
    got = cached.loglikelihood(instances)
    want = plain.loglikelihood(instances)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-4)
    for inst, w in zip(instances, want):
        np.testing.assert_allclose(_causal_reference(lm, inst), w, atol=1e-4)
    assert cached.stats.tokens < plain.stats.tokens / 2  # the prefix was computed once


def test_masked_next_token_distribution_matches_cloze_scores(tiny_masked: LoadedModel) -> None:
    scorer = make_scorer(tiny_masked)
    inst = _instances("{text} . It was {label} !", "bad,good")[:3]
    dist = scorer.next_token_logprobs([i.full_context for i in inst], [i.suffix for i in inst]).logprobs
    scores = scorer.loglikelihood(inst)
    tok = tiny_masked.tokenizer
    for row, s in zip(dist, scores):
        ids = [tok(" " + w, add_special_tokens=False)["input_ids"][0] for w in ("bad", "good")]
        np.testing.assert_allclose(row[ids], s, atol=1e-4)


@pytest.mark.parametrize("fixture", ["tiny_causal", "tiny_causal_absolute"])
def test_greedy_generation_matches_transformers_generate(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    from promptsearch.backends import GenerationRequest, GenerationSettings

    lm: LoadedModel = request.getfixturevalue(fixture)
    backend = make_scorer(lm, batch_size=3)
    prompts = ["Review: great fun film\nSentiment:", "The", "Question: what is the best movie?\nAnswer:", "I"]
    got = backend.generate(
        [GenerationRequest(p) for p in prompts], GenerationSettings(max_new_tokens=7, stop=())
    )
    tok = lm.tokenizer
    for text, prompt in zip(got, prompts):
        ids = torch.tensor([start_tokens(tok) + tok(prompt, add_special_tokens=False)["input_ids"]])
        with torch.inference_mode():
            out = lm.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=7,
                pad_token_id=tok.pad_token_id,
            )
        assert text == tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def _demo_prompt(verbalizer: str) -> Prompt:
    from promptsearch.tasks import Example

    demos = tuple(
        Example.create({"text": t}, lab)
        for t, lab in [
            ("the story was lovely and the actors were great", "positive"),
            ("boring plot , bad acting and a dull ending", "negative"),
            ("I loved the music", "positive"),
        ]
    )
    return Prompt.create(
        "Review: {text}\nSentiment:{label}",
        verbalizer,
        LABELS,
        instruction="Classify the sentiment of each movie review.",
        demonstrations=demos,
    )


@pytest.mark.parametrize("fixture", ["tiny_causal", "tiny_causal_absolute"])
@pytest.mark.parametrize("broadcast", [True, False])
def test_prefix_is_computed_once_across_calls(
    request: pytest.FixtureRequest, fixture: str, broadcast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptsearch.backends import _hf_causal

    lm: LoadedModel = request.getfixturevalue(fixture)
    if not broadcast:  # models whose attention cannot broadcast the prefix get a copy per row
        monkeypatch.setattr(_hf_causal, "broadcast_supported", lambda model: False)
    prompt = _demo_prompt(f"bad|{MULTI_TOKEN_WORDS[1]},good|{MULTI_TOKEN_WORDS[4]}")
    instances = [prompt.instance({"text": t}) for t in TEXTS]
    want = make_scorer(lm, batch_size=2, prefix_caching=False).loglikelihood(instances)
    scorer = make_scorer(lm, batch_size=2)
    got = [s for start in range(0, len(TEXTS), 3) for s in scorer.loglikelihood(instances[start : start + 3])]
    got += scorer.loglikelihood(instances[:1])  # a single request uses the stored prefix too
    for g, w in zip(got, [*want, want[0]]):
        np.testing.assert_allclose(g, w, atol=1e-4)
    assert len(scorer.prefixes) == 1
    assert (scorer.prefixes.misses, scorer.prefixes.hits) == (1, 3)


def test_batches_are_bounded_by_tokens(tiny_causal: LoadedModel) -> None:
    instances = _instances("Review: {text}\nSentiment:{label}", "negative,positive")
    want = make_scorer(tiny_causal, batch_size=16).loglikelihood(instances)
    sizes: list[tuple[int, int]] = []
    hook = tiny_causal.model.register_forward_pre_hook(
        lambda module, args, kwargs: sizes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        scorer = make_scorer(tiny_causal, batch_tokens=40)  # no batch_size: rows only by tokens
        got = scorer.loglikelihood(instances)
    finally:
        hook.remove()
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-4)
    assert all(rows * width <= 40 or rows == 1 for rows, width in sizes)
    assert any(rows > 2 for rows, _ in sizes)  # short contexts share a call


def test_token_batches_respect_rows_and_tokens() -> None:
    from promptsearch.backends._hf_tensors import token_batches

    lengths = [random.Random(3).randint(1, 30) for _ in range(50)]
    batches = list(token_batches(lengths, max_rows=6, max_tokens=64))
    assert sorted(i for b in batches for i in b) == list(range(50))
    for b in batches:
        width = max(lengths[i] for i in b)
        assert len(b) <= 6 and (len(b) * width <= 64 or len(b) == 1)
        assert lengths[b[0]] == width  # longest first: the first row sets the padded width


def test_prefix_store_keeps_the_most_recent_prefixes_within_its_budget(tiny_causal: LoadedModel) -> None:
    from promptsearch.backends._hf_tensors import PrefixStore, compute_prefix

    prefixes = [compute_prefix(tiny_causal.model, [5 + i, 6, 7, 8, 9, 10]) for i in range(3)]
    store = PrefixStore(max_bytes=int(prefixes[0].nbytes * 2.5))
    store.put(prefixes[0])
    store.put(prefixes[1])
    assert store.get(prefixes[0].ids) is prefixes[0]  # now the most recent
    store.put(prefixes[2])
    assert prefixes[1].ids not in store and prefixes[0].ids in store and prefixes[2].ids in store
    assert store.nbytes <= store.max_bytes
    assert store.get([1, 2, 3]) is None and (store.hits, store.misses) == (1, 1)


@pytest.mark.parametrize("fixture", ["tiny_causal", "tiny_causal_absolute"])
def test_broadcast_prefix_attention_is_checked_and_used(request: pytest.FixtureRequest, fixture: str) -> None:
    from promptsearch.backends._hf_tensors import broadcast_supported

    lm: LoadedModel = request.getfixturevalue(fixture)
    assert broadcast_supported(lm.model)
    assert lm.model.config._attn_implementation in ("sdpa", "eager")  # restored after every call

"""SoftPromptScorer: padding invariance, a hand-built reference, slot placement, masked LMs."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from promptsearch.backends import hf_backend as CausalLMScorer
from promptsearch.backends import hf_backend as MaskedLMScorer
from promptsearch.exceptions import ConfigError, ModelError, TemplateError
from promptsearch.models import LoadedModel
from promptsearch.tasks._records import Example
from promptsearch.templates import SOFT_MARKER, Prompt, PromptInstance
from promptsearch.tuning import SoftPromptScorer
from tests import _tiny

VERBALIZER = "bad|magnificent,good|great"  # "magnificent" is several tokens


def _examples(n: int = 9, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    return [
        Example.create(
            {"text": " ".join(rng.choice(_tiny.WORDS) for _ in range(rng.randint(1, 14)))},
            rng.choice(["neg", "pos"]),
        )
        for _ in range(n)
    ]


def _soft(n: int, hidden: int = 32, seed: int = 3) -> torch.Tensor:
    return torch.randn(n, hidden, generator=torch.Generator().manual_seed(seed))


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert len(a) == len(b)
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


def _reference(lm: LoadedModel, inst: PromptInstance, soft: torch.Tensor) -> np.ndarray:
    """One instance at a time, no padding: inputs_embeds built by hand (prefix placement)."""
    tok = lm.tokenizer
    start = [tok.bos_token_id] if tok("a")["input_ids"][0] == tok.bos_token_id else []
    ctx = inst.full_context.rstrip(" ")
    ctx_ids = start + tok(ctx, add_special_tokens=False)["input_ids"]
    embed = lm.model.get_input_embeddings()
    out = []
    for choice in inst.choices:
        whole = (
            start + tok(ctx + inst.full_context[len(ctx) :] + choice, add_special_tokens=False)["input_ids"]
        )
        assert whole[: len(ctx_ids)] == ctx_ids
        cont = whole[len(ctx_ids) :]
        ids = torch.tensor(ctx_ids + cont[:-1])
        with torch.no_grad():
            inputs = torch.cat([soft, embed(ids)])[None]
            logits = lm.model(inputs_embeds=inputs).logits[0]
        logp = torch.log_softmax(logits.float(), -1)
        first = soft.shape[0] + len(ctx_ids) - 1
        out.append(sum(float(logp[first + t, c]) for t, c in enumerate(cont)))
    return np.array(out)


@pytest.fixture(params=["tiny_causal", "tiny_causal_absolute"])
def causal_lm(request: pytest.FixtureRequest) -> LoadedModel:
    lm: LoadedModel = request.getfixturevalue(request.param)
    return lm


def test_batch_size_and_order_invariance(causal_lm: LoadedModel) -> None:
    prompt = Prompt.create("Review: {text}\nSentiment:{label}", VERBALIZER, ["neg", "pos"])
    instances = prompt.instances(_examples())
    soft = _soft(5)
    one = SoftPromptScorer(causal_lm, soft, batch_size=1).loglikelihood(instances)
    seven = SoftPromptScorer(causal_lm, soft, batch_size=7).loglikelihood(instances)
    order = list(range(len(instances)))
    random.Random(4).shuffle(order)
    shuffled = SoftPromptScorer(causal_lm, soft, batch_size=4).loglikelihood([instances[i] for i in order])
    unshuffled = [np.zeros(0)] * len(order)
    for pos, i in enumerate(order):
        unshuffled[i] = shuffled[pos]
    assert _max_diff(one, seven) < 1e-4
    assert _max_diff(one, unshuffled) < 1e-4
    reference = [_reference(causal_lm, inst, soft) for inst in instances]
    assert _max_diff(one, reference) < 1e-4
    # The check can fail: a different soft prompt gives different scores.
    other = SoftPromptScorer(causal_lm, _soft(5, seed=9), batch_size=7).loglikelihood(instances)
    assert _max_diff(one, other) > 1e-2


def test_without_soft_tokens_matches_causal_scorer(causal_lm: LoadedModel) -> None:
    prompt = Prompt.create("Text: {text}\nLabel:{label}", VERBALIZER, ["neg", "pos"])
    instances = prompt.instances(_examples(seed=5))
    ours = SoftPromptScorer(causal_lm, torch.zeros(0, 32), batch_size=3).loglikelihood(instances)
    theirs = CausalLMScorer(causal_lm, batch_size=4).loglikelihood(instances)
    assert _max_diff(ours, theirs) < 1e-4


def test_slot_placement_fills_markers(tiny_causal_absolute: LoadedModel) -> None:
    lm = tiny_causal_absolute
    prompt = Prompt.create("{soft:2} Review: {text}{soft:3}\nSentiment:{label}", "bad,good", ["neg", "pos"])
    instances = prompt.instances(_examples(5, seed=7))
    assert SOFT_MARKER * 3 in instances[0].full_context
    soft = _soft(5)
    got = SoftPromptScorer(lm, soft, placement="slot", batch_size=2).loglikelihood(instances)
    tok, embed = lm.tokenizer, lm.model.get_input_embeddings()
    for inst, scores in zip(instances, got):
        head, middle = (p for p in inst.full_context.split(SOFT_MARKER) if p)
        assert head.startswith(" Review: ") and middle == "\nSentiment:"
        pieces = [
            soft[:2],
            embed(torch.tensor(tok(head, add_special_tokens=False)["input_ids"])),
            soft[2:],
            embed(torch.tensor(tok(middle, add_special_tokens=False)["input_ids"])),
        ]
        with torch.no_grad():
            logits = lm.model(inputs_embeds=torch.cat(pieces)[None]).logits[0, -1]
        logp = torch.log_softmax(logits, -1)
        expected = [float(logp[tok(c, add_special_tokens=False)["input_ids"][0]]) for c in inst.choices]
        np.testing.assert_allclose(scores, expected, atol=1e-4)
    prefix_scores = SoftPromptScorer(lm, soft, batch_size=2).loglikelihood(
        Prompt.create("Review: {text}\nSentiment:{label}", "bad,good", ["neg", "pos"]).instances(
            _examples(5, 7)
        )
    )
    assert _max_diff(got, prefix_scores) > 1e-3


def test_placement_mismatches_raise(tiny_causal: LoadedModel) -> None:
    slot = Prompt.create("{soft:2} {text}:{label}", "bad,good", ["neg", "pos"]).instances(_examples(2))
    plain = Prompt.create("{text}:{label}", "bad,good", ["neg", "pos"]).instances(_examples(2))
    with pytest.raises(TemplateError, match="placement"):
        SoftPromptScorer(tiny_causal, _soft(2)).loglikelihood(slot)
    with pytest.raises(TemplateError, match="add up to 3"):
        SoftPromptScorer(tiny_causal, _soft(3), placement="slot").loglikelihood(slot)
    with pytest.raises(TemplateError, match="add up to 2"):
        SoftPromptScorer(tiny_causal, _soft(2), placement="slot").loglikelihood(plain)
    with pytest.raises(ModelError, match="dimensions"):
        SoftPromptScorer(tiny_causal, torch.zeros(2, 7))
    with pytest.raises(ConfigError):
        SoftPromptScorer(tiny_causal, _soft(2), placement="middle")


def test_label_log_probs_differentiable(tiny_causal: LoadedModel) -> None:
    prompt = Prompt.create("Review: {text}\nSentiment:{label}", VERBALIZER, ["neg", "pos"])
    instances = prompt.instances(_examples(4))
    soft = torch.nn.Parameter(_soft(3))
    scorer = SoftPromptScorer(tiny_causal, soft, batch_size=2)
    labels = scorer.label_log_probs(instances, 2)
    raw = scorer.loglikelihood(instances)
    expected = [[np.logaddexp(s[0], s[1]), np.logaddexp(s[2], s[3])] for s in raw]
    np.testing.assert_allclose(labels.detach().numpy(), expected, atol=1e-4)
    labels.sum().backward()
    assert soft.grad is not None and float(soft.grad.abs().sum()) > 0


def test_model_id_follows_embeddings(tiny_causal: LoadedModel) -> None:
    soft = _soft(2)
    scorer = SoftPromptScorer(tiny_causal, soft)
    before = scorer.model.model_id
    assert before != tiny_causal.model_id and before.startswith(tiny_causal.name)
    soft.add_(1.0)
    assert scorer.model.model_id != before


def test_masked_lm(tiny_masked: LoadedModel) -> None:
    prompt = Prompt.create("{text} It was{label}.", VERBALIZER, ["neg", "pos"])
    instances = prompt.instances(_examples(7, seed=11))
    plain = SoftPromptScorer(tiny_masked, torch.zeros(0, 32), batch_size=3).loglikelihood(instances)
    assert _max_diff(plain, MaskedLMScorer(tiny_masked, batch_size=5).loglikelihood(instances)) < 1e-4
    soft = _soft(4)
    one = SoftPromptScorer(tiny_masked, soft, batch_size=1).loglikelihood(instances)
    many = SoftPromptScorer(tiny_masked, soft, batch_size=7).loglikelihood(instances)
    assert _max_diff(one, many) < 1e-4
    assert _max_diff(one, plain) > 1e-3

"""What every backend must do, checked the same way for all of them.

A new backend's tests call :func:`check_backend` on an instance; it checks the protocol's
promises: one result per request, log-probabilities that are finite and at most 0, results
that do not depend on the batch size, the order of the requests or where the shared prefix
ends, generation that is deterministic when greedy, honours stop strings and ``max_new_tokens``
and does not depend on batch-mates, next-token distributions that are normalized, and token
counts that truncation respects. Capabilities a backend declares absent must fail with a clear
:class:`~promptsearch.exceptions.ModelError`.
"""

from __future__ import annotations

import numpy as np
import pytest

from promptsearch.backends import GenerationRequest, GenerationSettings, LMBackend, LoglikelihoodRequest
from promptsearch.exceptions import ModelError

__all__ = [
    "check_backend",
    "check_generation",
    "check_loglikelihood",
    "check_next_token",
    "check_tokens",
    "scoring_requests",
]

PREFIX = "Classify the review.\n\nReview: a dull film\nSentiment: bad\n\n"
CONTEXTS = ("Review: great fun film\nSentiment:", "Review: the worst movie\nSentiment:", "It was", "A")
CONTINUATIONS = ((" good", " bad"), (" great", " terrible", " okay"), (" fine",), (" good", " bad"))
QUESTIONS = (
    "Question: What is the capital of France?\nAnswer:",
    "Review: great film\nSentiment:",
    "The sky is",
    "Question: 2 + 2?\nAnswer:",
    "A",
)


def _requests(prefix: str = "") -> list[LoglikelihoodRequest]:
    return [LoglikelihoodRequest(c, conts, prefix) for c, conts in zip(CONTEXTS, CONTINUATIONS)]


def scoring_requests() -> list[LoglikelihoodRequest]:
    """Classification-like requests, with and without shared demonstrations (for comparing
    two backends on one model)."""
    demos = (
        "Review: a dull, lifeless film\nSentiment: negative\n\n"
        "Review: warm and funny\nSentiment: positive\n\n"
    )
    requests = [LoglikelihoodRequest(c, conts, PREFIX) for c, conts in zip(CONTEXTS, CONTINUATIONS)]
    for text in ("an instant classic", "I walked out after an hour", "neither good nor bad, just long"):
        query = f"Review: {text}\nSentiment:"
        requests.append(LoglikelihoodRequest(query, (" negative", " positive"), demos))
        requests.append(LoglikelihoodRequest(query, (" terrible", " great")))
    return requests


def _with_batch_size(backend: LMBackend, size: int, run: object) -> object:
    old = backend.batch_size
    backend.batch_size = size
    try:
        return run()  # type: ignore[operator]
    finally:
        backend.batch_size = old


def check_loglikelihood(backend: LMBackend, atol: float = 1e-4) -> None:
    """Shapes, range, and invariance to batch size, request order and the prefix split."""
    assert backend.loglikelihood([]) == []
    requests = _requests(PREFIX)
    before = backend.stats.instances
    out = backend.loglikelihood(requests)
    assert backend.stats.instances > before
    assert len(out) == len(requests)
    for scores, request in zip(out, requests):
        assert scores.shape == (len(request.continuations),)
        assert np.all(np.isfinite(scores)) and np.all(scores <= 1e-6), scores
    one = _with_batch_size(backend, 1, lambda: backend.loglikelihood(requests))
    many = _with_batch_size(backend, 7, lambda: backend.loglikelihood(requests[::-1])[::-1])
    joined = backend.loglikelihood(
        [LoglikelihoodRequest(PREFIX + r.context, r.continuations) for r in requests]
    )
    for a, b, c, d in zip(out, one, many, joined):  # type: ignore[call-overload]
        np.testing.assert_allclose(a, b, atol=atol)
        np.testing.assert_allclose(a, c, atol=atol)
        np.testing.assert_allclose(a, d, atol=atol)


def check_generation(backend: LMBackend, max_new_tokens: int = 6) -> None:
    """Greedy determinism, batch invariance, stop strings, the length bound, seeded sampling."""
    requests = [GenerationRequest(q) for q in QUESTIONS]
    settings = GenerationSettings(max_new_tokens=max_new_tokens, stop=("\n", "."))
    if not backend.capabilities.generate:
        with pytest.raises(ModelError):
            backend.generate(requests, settings)
        return
    assert backend.generate([], settings) == []
    before = backend.stats.generated_tokens
    texts = backend.generate(requests, settings)
    assert backend.stats.generated_tokens - before <= max_new_tokens * len(requests)
    assert len(texts) == len(requests) and all(isinstance(t, str) for t in texts)
    assert texts == backend.generate(requests, settings)
    one = _with_batch_size(backend, 1, lambda: backend.generate(requests, settings))
    many = _with_batch_size(backend, 16, lambda: backend.generate(requests[::-1], settings)[::-1])
    assert texts == one == many
    for text in texts:
        assert "\n" not in text and "." not in text
    shared = [GenerationRequest(q, PREFIX) for q in QUESTIONS]
    assert backend.generate(shared, settings) == backend.generate(
        [GenerationRequest(PREFIX + q) for q in QUESTIONS], settings
    )
    sampled = GenerationSettings(max_new_tokens=max_new_tokens, stop=(), do_sample=True, seed=3)
    first = backend.generate(requests, sampled)
    assert first == backend.generate(requests, sampled)
    assert first[1:] == backend.generate(
        requests[1:], GenerationSettings(max_new_tokens=max_new_tokens, stop=(), do_sample=True, seed=4)
    )  # request i uses seed + i


def check_next_token(backend: LMBackend) -> None:
    """Normalized distributions over one vocabulary; top-k keeps at most k tokens per row."""
    contexts = list(CONTEXTS[:3])
    if not backend.capabilities.next_token_logprobs:
        with pytest.raises(ModelError):
            backend.next_token_logprobs(contexts)
        return
    dist = backend.next_token_logprobs(contexts)
    assert dist.logprobs.shape == (len(contexts), len(dist.vocabulary))
    assert all(isinstance(t, str) for t in dist.vocabulary)
    if backend.capabilities.full_vocabulary:
        totals = np.logaddexp.reduce(dist.logprobs.astype(np.float64), axis=1)
        np.testing.assert_allclose(totals, 0.0, atol=1e-3)
    top = backend.next_token_logprobs(contexts, top_k=5)
    assert all(1 <= np.isfinite(row).sum() <= 5 + 2 for row in top.logprobs)  # ties may keep a few more
    best = dist.logprobs.argmax(axis=1)
    if backend.capabilities.full_vocabulary:
        assert top.vocabulary == dist.vocabulary
        assert np.all(np.isfinite(top.logprobs[np.arange(len(contexts)), best]))
    else:  # a top-k backend's vocabulary is the tokens its answers named
        assert set(top.vocabulary) <= set(dist.vocabulary)
        column = {t: j for j, t in enumerate(top.vocabulary)}
        assert all(np.isfinite(top.logprobs[i, column[dist.vocabulary[j]]]) for i, j in enumerate(best))


def check_tokens(backend: LMBackend) -> None:
    """Token counts, truncation within the budget, identity and limits."""
    text = "The quick brown fox jumps over the lazy dog, twice."
    assert backend.count_tokens("") == 0
    n = backend.count_tokens(text)
    assert n > 0
    for budget in (0, 1, 3, n):
        cut = backend.truncate_text(text, budget)
        assert backend.count_tokens(cut) <= budget
        squeezed = cut.lower().replace(" ", "")  # some tokenizers lower-case or re-space
        assert text.lower().replace(" ", "").startswith(squeezed)
    assert isinstance(backend.name, str) and backend.name
    assert isinstance(backend.model_id, str) and backend.model_id == backend.model_id
    assert backend.max_length > 0
    assert isinstance(backend.chat_prompt("Hi"), str)


def check_backend(backend: LMBackend) -> None:
    """Every check of this suite."""
    check_tokens(backend)
    check_loglikelihood(backend)
    check_next_token(backend)
    check_generation(backend)

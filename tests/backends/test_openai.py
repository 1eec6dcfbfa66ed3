"""The ``openai`` backend against an in-process OpenAI-compatible server over a tiny model.

The server (``tests/backends/openai_server.py``) answers as vLLM does; the real vLLM server is
tested in ``test_served.py`` when CI starts one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import numpy as np
import pytest

from promptsearch.backends import (
    GenerationRequest,
    GenerationSettings,
    LoglikelihoodRequest,
    OpenAIBackend,
    hf_backend,
    load_backend,
)
from promptsearch.exceptions import ConfigError, ModelError, ServerError
from promptsearch.models import LoadedModel
from tests.backends.conformance import CONTEXTS, CONTINUATIONS, PREFIX, QUESTIONS, check_backend
from tests.backends.openai_server import FakeServer, serve


@pytest.fixture(scope="module")
def server(tiny_causal: LoadedModel) -> Iterator[FakeServer]:
    with serve(tiny_causal) as state:
        yield state


@pytest.fixture()
def fresh(server: FakeServer) -> Iterator[FakeServer]:
    """The shared server, reset after each test that changes its switches."""
    yield server
    server.fail_next.clear()
    server.prompt_logprobs = server.tokenize_route = server.token_ids = True
    server.api_key = None
    server.delay = 0.0
    server.max_logprobs = 20


def _backend(server: FakeServer, **options: object) -> OpenAIBackend:
    backend = load_backend("openai", server.served_name, base_url=server.url, retries=1, **options)
    assert isinstance(backend, OpenAIBackend)
    backend.client.backoff = 0.01
    return backend


def test_openai_backend_passes_the_conformance_suite(server: FakeServer) -> None:
    check_backend(_backend(server, batch_size=3))


def test_openai_backend_agrees_with_hf_on_the_same_model(
    server: FakeServer, tiny_causal: LoadedModel
) -> None:
    served, local = _backend(server), hf_backend(tiny_causal)
    requests = [LoglikelihoodRequest(c, conts, PREFIX) for c, conts in zip(CONTEXTS, CONTINUATIONS)]
    for a, b in zip(served.loglikelihood(requests), local.loglikelihood(requests)):
        np.testing.assert_allclose(a, b, atol=1e-4)
    settings = GenerationSettings(max_new_tokens=6, stop=("\n",))
    prompts = [GenerationRequest(q) for q in QUESTIONS]
    assert served.generate(prompts, settings) == local.generate(prompts, settings)
    assert served.count_tokens(PREFIX) == local.count_tokens(PREFIX)
    top = served.next_token_logprobs(list(CONTEXTS[:2]), top_k=3)
    full = local.next_token_logprobs(list(CONTEXTS[:2]))
    for i in range(2):
        best = int(np.argmax(full.logprobs[i]))
        column = top.vocabulary.index(full.vocabulary[best])
        assert abs(top.logprobs[i, column] - full.logprobs[i, best]) < 1e-4


def test_a_local_tokenizer_gives_the_same_scores(
    server: FakeServer, tiny_causal: LoadedModel, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    tiny_causal.tokenizer.save_pretrained(tmp_path)
    with_server = _backend(server)
    local = _backend(server, tokenizer=str(tmp_path))
    before = len(server.requests)
    requests = [LoglikelihoodRequest(c, conts) for c, conts in zip(CONTEXTS, CONTINUATIONS)]
    for a, b in zip(local.loglikelihood(requests), with_server.loglikelihood(requests)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    tokenize_calls = [p for p, _ in server.requests[before:] if p == "/tokenize"]
    assert tokenize_calls  # the server-tokenized backend asked the server; the local one did not need to


def test_one_token_label_words_come_from_the_top_tokens_else_from_their_own_prompts(
    fresh: FakeServer, tiny_causal: LoadedModel
) -> None:
    requests = [LoglikelihoodRequest(c, conts, PREFIX) for c, conts in zip(CONTEXTS, CONTINUATIONS)]
    expected = hf_backend(tiny_causal).loglikelihood(requests)
    fresh.max_logprobs = len(tiny_causal.tokenizer)  # every word is among the top tokens
    for by_id in (True, False):
        fresh.token_ids = by_id
        backend = _backend(fresh, max_logprobs=fresh.max_logprobs)
        before = len(fresh.requests)
        for a, b in zip(backend.loglikelihood(requests), expected):
            np.testing.assert_allclose(a, b, atol=1e-4)
        sent = [b for p, b in fresh.requests[before:] if p == "/v1/completions"]
        echoed = sum(len(b["prompt"]) for b in sent if b.get("echo"))
        if by_id:  # words among the top tokens need no prompt of their own
            assert echoed == 0
        else:  # the server cannot name tokens by id: every word is scored by its own prompt
            assert echoed == sum(len(c) for c in CONTINUATIONS)


def test_requests_are_batched_and_the_model_identity_keys_the_cache(server: FakeServer) -> None:
    backend = _backend(server, batch_size=4)
    before = len(server.requests)
    requests = [LoglikelihoodRequest(f"Review {i} was", (" good", " bad")) for i in range(6)]
    backend.loglikelihood(requests)
    completions = [b for p, b in server.requests[before:] if p == "/v1/completions"]
    assert completions and all(1 <= len(b["prompt"]) <= 4 for b in completions)  # lists of at most 4
    assert all(isinstance(prompt, list) for b in completions for prompt in b["prompt"])  # token ids
    assert sum(len(b["prompt"]) for b in completions if not b.get("echo")) == 6  # one context each
    assert backend.model_id.startswith("openai:") and '"id": "tiny"' in backend.model_id
    assert server.url not in backend.model_id  # identity, not address


def test_chat_mode_goes_through_chat_completions(server: FakeServer) -> None:
    backend = _backend(server, chat=True)
    before = len(server.requests)
    texts = backend.generate([GenerationRequest("Say hi")], GenerationSettings(max_new_tokens=4))
    assert len(texts) == 1 and isinstance(texts[0], str)
    assert [p for p, _ in server.requests[before:]] == ["/v1/chat/completions"]
    assert backend.chat_prompt("Hi") == "Hi"


# -- bad input: one clear message each -----------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_that_is_down_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(ServerError, match=r"Could not reach the server .* Is it running"):
        load_backend("openai", "tiny", base_url=url, retries=0)


def test_an_unknown_served_model_names_what_is_served(server: FakeServer) -> None:
    with pytest.raises(ConfigError, match=r"does not serve 'tiny2'.*\['tiny'\].*Did you mean 'tiny'"):
        load_backend("openai", "tiny2", base_url=server.url)


def test_the_default_model_name_takes_the_only_served_model(server: FakeServer) -> None:
    from promptsearch.models import DEFAULT_MODEL

    assert load_backend("openai", DEFAULT_MODEL, base_url=server.url).name == "tiny"


def test_a_url_without_v1_says_so(server: FakeServer) -> None:
    with pytest.raises(ServerError, match=r"404.*ending in /v1"):
        load_backend("openai", "tiny", base_url=server.url[: -len("/v1")], retries=0)
    with pytest.raises(ConfigError, match="not an http"):
        load_backend("openai", "tiny", base_url="127.0.0.1:8000/v1")
    with pytest.raises(ConfigError, match="needs the server's address"):
        load_backend("openai", "tiny")


def test_a_server_without_prompt_logprobs_serves_generation_only(fresh: FakeServer) -> None:
    backend = _backend(fresh)
    fresh.prompt_logprobs = False
    with pytest.raises(ModelError, match=r"does not return the prompt's log-probabilities.*vLLM"):
        backend.loglikelihood([LoglikelihoodRequest("It was", (" good",))])
    assert backend.generate([GenerationRequest("It was")], GenerationSettings(max_new_tokens=3))


def test_failures_are_retried_then_reported(fresh: FakeServer) -> None:
    backend = _backend(fresh)
    request = [LoglikelihoodRequest("It was", (" good", " bad"))]
    expected = backend.loglikelihood(request)[0]
    fresh.fail_next.extend([503])  # one failure, then the retry succeeds
    np.testing.assert_allclose(backend.loglikelihood(request)[0], expected)
    fresh.fail_next.extend([500, 500])
    with pytest.raises(ServerError, match=r"failed \(500.*resumes when run again"):
        backend.loglikelihood([LoglikelihoodRequest("It is", (" good",))])
    fresh.fail_next.extend([400])
    with pytest.raises(ServerError, match=r"refused \(400"):  # a client error is not retried
        backend.loglikelihood([LoglikelihoodRequest("It is now", (" good",))])


def test_api_keys_come_from_the_environment_only(fresh: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh.api_key = "sekret"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ServerError, match=r"401.*API key is missing or wrong"):
        _backend(fresh)
    monkeypatch.setenv("MY_KEY", "sekret")
    backend = _backend(fresh, api_key_env="MY_KEY")
    assert "sekret" not in repr(backend) + repr(backend.client) + backend.model_id + backend.name
    with pytest.raises(ConfigError, match="not set"):
        _backend(fresh, api_key_env="NOT_SET_ANYWHERE")
    with pytest.raises(ConfigError, match="Do not put an API key in options"):
        _backend(fresh, api_key="sekret")


def test_a_slow_server_times_out_with_advice(fresh: FakeServer) -> None:
    backend = _backend(fresh, timeout=0.2)
    fresh.delay = 0.5
    with pytest.raises(ServerError, match=r"no answer within 0.2 s.*raise the timeout"):
        backend.count_tokens("a text never tokenized before")


def test_no_tokenize_route_asks_for_a_tokenizer(fresh: FakeServer) -> None:
    fresh.tokenize_route = False
    backend = _backend(fresh)
    with pytest.raises(ServerError, match="404"):
        backend.count_tokens("some other text")


def test_soft_prompts_and_tuning_are_refused(server: FakeServer) -> None:
    from promptsearch.exceptions import TemplateError
    from promptsearch.templates._template import SOFT_MARKER

    backend = _backend(server)
    assert not backend.capabilities.trainable
    with pytest.raises(TemplateError, match="soft"):
        backend.loglikelihood([LoglikelihoodRequest(SOFT_MARKER + " It was", (" good",))])

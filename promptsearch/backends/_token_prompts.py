"""What backends that send token-id prompts to an inference engine share (``openai``, ``vllm``).

Such a backend tokenizes every prompt itself, exactly as the ``hf`` backend does (the
tokenizer's start tokens first, continuations read from the joint tokenization of context and
continuation), sends the token ids, and reads each token's log-probability by position, never
by text offset. A text's first token has no log-probability (nothing precedes it): the
tokenizer's start tokens (BOS) come first where it has them, and a continuation with nothing
before it is refused where it has none. A subclass supplies three engine calls:
:meth:`TokenPromptBackend.prompt_logprobs`, :meth:`TokenPromptBackend.top_logprobs` and
:meth:`TokenPromptBackend.complete`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from promptsearch.backends._base import (
    GenerationRequest,
    GenerationSettings,
    LMBackend,
    LoglikelihoodRequest,
    ProgressCallback,
    TokenLogprobs,
)
from promptsearch.backends._tokens import EncodedInstance, encode_continuations, special_wrapping
from promptsearch.exceptions import ModelError

__all__ = ["TokenPromptBackend"]

T = TypeVar("T")


class TokenPromptBackend(LMBackend):
    """A backend over an engine that takes token-id prompts and returns log-probabilities.

    Subclasses set :attr:`tokenizer` (called like a ``transformers`` tokenizer) and implement
    the engine calls; results are those of the ``hf`` backend on the same model and dtype.
    """

    tokenizer: Any
    #: The model's name (set by the subclass) and its context length.
    _name: str
    _max_length: int = 2048

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_length(self) -> int:
        return self._max_length

    def chunks(self, items: list[T]) -> list[list[T]]:
        """``items`` in groups of ``batch_size``: what one engine call (one request) carries."""
        size = max(1, int(self.batch_size))
        return [items[i : i + size] for i in range(0, len(items), size)]

    # -- the engine ---------------------------------------------------------------------------------
    @abstractmethod
    def prompt_logprobs(
        self, prompts: list[list[int]], progress: ProgressCallback | None, n_requests: int
    ) -> list[np.ndarray]:
        """Each prompt's per-token log-probabilities (position 0 NaN: nothing precedes it);
        ``progress`` receives ``n_requests`` in all, as the work is done."""

    @abstractmethod
    def top_logprobs(self, prompts: list[list[int]], k: int) -> list[dict[str, float]]:
        """For each prompt, the ``k`` likeliest next tokens (their texts) and log-probabilities."""

    @abstractmethod
    def complete(
        self,
        prompts: list[list[int]],
        texts: Sequence[str],
        settings: GenerationSettings,
        progress: ProgressCallback | None,
    ) -> list[str]:
        """One continuation per text (``prompts``: its token ids, empty under :attr:`chat`);
        request ``i`` samples with seed ``settings.seed + i``."""

    # -- tokens ---------------------------------------------------------------------------------------
    @property
    def start(self) -> list[int]:
        """Tokens the tokenizer puts before a text (BOS), found by probing as ``hf`` does."""
        found: list[int] | None = getattr(self, "_start", None)
        if found is None:
            found = special_wrapping(self.tokenizer)[0]
            self._start = found
        return found

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0

    # -- the protocol ---------------------------------------------------------------------------------
    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        if not requests:
            return []
        self.check_text(requests)
        encoded = encode_continuations(
            self.tokenizer,
            [r.full_context for r in requests],
            [r.continuations for r in requests],
            self.start,
        )
        limit = self.max_length - 1  # engines generate (at least) one token after a scored prompt
        for e in encoded:
            if not e.context:
                raise ModelError(
                    "A continuation with nothing before it has no log-probability, and this model's "
                    "tokenizer puts no start token first; give the template text before the label."
                )
            if any(not cont for cont in e.continuations):
                raise ModelError("A label word tokenized to no tokens; use non-empty label words.")
        # Label words of one token each: one prompt per request (its context), read from the
        # engine's top next tokens; a word outside them is scored by its own prompt below.
        found = self._single_token_scores(encoded, limit)
        done = sum(1 for f in found if f is not None and all(v is not None for v in f))
        if progress is not None and done:
            progress(done)
        rows: dict[tuple[int, ...], int] = {}  # each distinct prompt is sent once
        where: list[
            list[tuple[int, int, int] | float]
        ] = []  # per continuation: (row, start, length) or its score
        for e, known in zip(encoded, found):
            spots: list[tuple[int, int, int] | float] = []
            for j, cont in enumerate(e.continuations):
                value = known[j] if known is not None else None
                if value is not None:
                    spots.append(value)
                    continue
                ids = [*e.context, *cont]
                if len(ids) > limit:  # keep the end: the query and its continuation
                    self.warn_truncation_once(f"a scoring prompt of {len(ids)} tokens")
                    ids = ids[len(ids) - limit :]
                spots.append((rows.setdefault(tuple(ids), len(rows)), len(ids) - len(cont), len(cont)))
            where.append(spots)
        logprobs = (
            self.prompt_logprobs([list(k) for k in rows], progress, len(requests) - done) if rows else []
        )
        self.stats.instances += len(requests)
        self.stats.tokens += sum(len(k) for k in rows)
        return [
            np.array(
                [
                    s if isinstance(s, float) else float(np.sum(logprobs[s[0]][s[1] : s[1] + s[2]]))
                    for s in spots
                ],
                dtype=np.float64,
            )
            for spots in where
        ]

    def _single_token_scores(
        self, encoded: Sequence[EncodedInstance], limit: int
    ) -> list[list[float | None] | None]:
        """For requests whose continuations are one token each, their log-probabilities where
        the engine's top next tokens name them (``None`` where not, or for other requests)."""
        single = [
            i
            for i, e in enumerate(encoded)
            if len(e.context) <= limit and all(len(c) == 1 for c in e.continuations)
        ]
        out: list[list[float | None] | None] = [None] * len(encoded)
        if not single:
            return out
        tops = self.top_token_id_logprobs([encoded[i].context for i in single], self.max_logprobs)
        if tops is None:
            return out
        for i, top in zip(single, tops):
            out[i] = [top.get(cont[0]) for cont in encoded[i].continuations]
        return out

    def top_token_id_logprobs(self, prompts: list[list[int]], k: int) -> list[dict[int, float]] | None:
        """For each prompt, the ``k`` likeliest next token ids and their log-probabilities, or
        ``None`` when the engine cannot name tokens by id (every word then gets its own prompt)."""
        return None

    def next_token_logprobs(
        self,
        contexts: Sequence[str],
        suffixes: Sequence[str] | None = None,
        *,
        top_k: int | None = None,
    ) -> TokenLogprobs:
        """The engine's top log-probabilities of the next token (at most :attr:`max_logprobs`);
        every other token is ``-inf``. The vocabulary is the tokens named in this call."""
        k = min(top_k or self.max_logprobs, self.max_logprobs)
        prompts = [
            self.start + list(x)
            for x in self.tokenizer([c.rstrip(" ") for c in contexts], add_special_tokens=False)["input_ids"]
        ]
        rows = self.top_logprobs(prompts, k)
        vocabulary = tuple(sorted({t for row in rows for t in row}))
        column = {t: j for j, t in enumerate(vocabulary)}
        out = np.full((len(rows), len(vocabulary)), -np.inf, dtype=np.float32)
        for i, row in enumerate(rows):
            for token, value in sorted(row.items(), key=lambda kv: -kv[1])[:k]:
                out[i, column[token]] = value
        return TokenLogprobs(vocabulary, out)

    #: The most top log-probabilities the engine returns per position.
    max_logprobs: int = 20
    #: Generation goes through a chat API, which applies the chat template to the texts
    #: (:meth:`complete` then gets no token ids).
    chat: bool = False

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        settings: GenerationSettings,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        from promptsearch.backends._hf_generate import cut_at_stop

        if not requests:
            return []
        self.check_text(requests)
        texts = [r.full_context for r in requests]
        prompts = [] if self.chat else self.generation_prompts(texts, settings)
        out = self.complete(prompts, texts, settings, progress)
        self.stats.instances += len(requests)
        return [cut_at_stop(t, settings.stop) for t in out]

    def generation_prompts(self, texts: Sequence[str], settings: GenerationSettings) -> list[list[int]]:
        """Token ids as the ``hf`` backend builds them: start tokens first (unless a chat
        template already wrote them), cut from the left to leave room for the answer."""
        budget = self.max_length - settings.max_new_tokens
        start = self.start
        rows = []
        for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
            row = list(ids) if start and list(ids[: len(start)]) == start else [*start, *ids]
            if not row:
                raise ModelError("A generation prompt rendered to no text; give the template some text.")
            if len(row) > budget:
                self.warn_truncation_once(f"a generation prompt of {len(row)} tokens")
                row = row[len(row) - budget :]
            rows.append(row)
        return rows

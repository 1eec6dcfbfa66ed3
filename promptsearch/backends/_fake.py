"""A deterministic fake language model: no weights, no torch, answers in microseconds.

Like DSPy's ``DummyLM``, it lets whole searches run in tests without a forward pass, while
still reacting to the prompt: every score mixes word affinities given by the test with a
pseudo-random term hashed from the full text, so different templates, label words and
demonstrations get different, reproducible scores.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from promptsearch.backends._base import (
    Capabilities,
    GenerationRequest,
    GenerationSettings,
    LMBackend,
    LoglikelihoodRequest,
    ProgressCallback,
    TokenLogprobs,
    check_options,
    register_backend,
)

__all__ = ["FakeBackend"]

_TOKEN = re.compile(r"\w+|[^\w\s]|\s+")
_WORD = re.compile(r"\w+")
_FILLER = ("the", "a", "it", "was", "is", "and", "answer", "text", "yes", "no", "maybe", "unknown")


def _unit(*parts: object) -> float:
    """A reproducible pseudo-random number in [0, 1) from ``parts``."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class FakeBackend(LMBackend):
    """A fake causal LM whose outputs depend only on its settings and the text.

    * A continuation's log-probability is ``sum(log_sigmoid(a + noise * (u - 0.5) - 1))`` over
      its words, where ``a`` sums the affinities of the context's words to that word and
      ``u`` is hashed from (seed, full context, word).
    * Generation answers from ``answers``: the longest key found in the request's own context
      (not its shared prefix) gives the answer; a hashed share ``wrong_rate`` of the
      (prompt, request) pairs answers ``"unknown"`` instead, so prompts differ.
    * Tokens are words, punctuation marks and runs of whitespace.

    Args:
        affinities: Context word -> continuation word -> affinity (lower case).
        answers: Text found in a request's context -> the generated answer.
        noise: Weight of the hashed term.
        wrong_rate: Share of generations answered ``"unknown"``.
        seed: Changes every hashed term (0 is a valid seed).
        name: Model name (its ``model_id`` also hashes the settings).
        latency: Seconds each call waits, as a remote model would (for tests of many workers).
        ledger: A file that gets one line per answered request (tests check nothing is
            computed twice); a log-likelihood request's text is its parts joined by ``"\x1f"``,
            as :func:`promptsearch.scoring.request_key` hashes them. ``None`` keeps no record.

    Example:
        >>> fake = FakeBackend(affinities={"great": {"positive": 3.0}})
        >>> request = LoglikelihoodRequest("A great film. It was", (" positive", " negative"))
        >>> good, bad = fake.loglikelihood([request])[0]
        >>> bool(good > bad)
        True
    """

    capabilities: ClassVar[Capabilities] = Capabilities(generate=True, next_token_logprobs=True)
    registry_name: ClassVar[str] = "fake"

    def __init__(
        self,
        *,
        affinities: Mapping[str, Mapping[str, float]] | None = None,
        answers: Mapping[str, str] | None = None,
        noise: float = 1.0,
        wrong_rate: float = 0.3,
        seed: int = 0,
        name: str = "fake",
        batch_size: int | None = None,
        max_length: int = 2048,
        latency: float = 0.0,
        ledger: str | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size)
        self.latency = float(latency)
        self.ledger = ledger
        self.affinities = {
            k.lower(): {w.lower(): float(v) for w, v in d.items()} for k, d in (affinities or {}).items()
        }
        self.answers = dict(answers or {})
        self.noise = float(noise)
        self.wrong_rate = float(wrong_rate)
        self.seed = int(seed)
        self._name = name
        self._max_length = int(max_length)
        words = {w for d in self.affinities.values() for w in d} | set(self.affinities) | set(_FILLER)
        words |= {w.lower() for a in self.answers.values() for w in _WORD.findall(a)}
        self._vocabulary = tuple(sorted(" " + w for w in words))

    @classmethod
    def load(
        cls,
        model: Any = "fake",
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | None = None,
        **options: Any,
    ) -> FakeBackend:
        """Build from a space's ``backend: {name: fake, options: {...}}`` (dtype and device unused)."""
        check_options(cls, {"name": str(model), "batch_size": batch_size, **options}, "backend 'fake'")
        return cls(name=str(model), batch_size=batch_size, **options)

    @property
    def name(self) -> str:
        return self._name

    @property
    def model_id(self) -> str:
        settings = repr(
            (
                sorted(self.affinities.items()),
                sorted(self.answers.items()),
                self.noise,
                self.wrong_rate,
                self.seed,
            )
        )
        return f"fake:{self._name}:{hashlib.sha256(settings.encode()).hexdigest()[:12]}"

    @property
    def max_length(self) -> int:
        return self._max_length

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def truncate_text(self, text: str, n_tokens: int) -> str:
        return "".join(_TOKEN.findall(text)[: max(0, n_tokens)])

    def _word_logprob(self, context: str, word: str) -> float:
        ctx_words = [w.lower() for w in _WORD.findall(context)]
        affinity = sum(self.affinities.get(c, {}).get(word.lower(), 0.0) for c in ctx_words)
        logit = affinity + self.noise * (_unit(self.seed, context, word.lower()) - 0.5) - 1.0
        return -math.log1p(math.exp(-logit)) if logit > -30 else logit  # log_sigmoid

    def _record(self, kind: str, texts: Sequence[str]) -> None:
        """Wait ``latency`` and append the requests to the ledger."""
        if self.latency and texts:
            time.sleep(self.latency)
        if self.ledger and texts:
            with open(self.ledger, "a", encoding="utf-8") as fh:
                fh.write("".join(json.dumps([kind, self.model_id, t]) + "\n" for t in texts))  # one write

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        self.check_text(requests)
        self._record(
            "loglikelihood",
            ["\x1f".join((r.prefix, r.context, "\x1e".join(r.continuations), r.suffix)) for r in requests],
        )
        out = []
        for r in requests:
            context = r.full_context
            scores = []
            for cont in r.continuations:
                words = _WORD.findall(cont) or [cont]
                scores.append(sum(self._word_logprob(context, w) for w in words))
            out.append(np.array(scores, dtype=np.float64))
            self.stats.tokens += self.count_tokens(context)
        self.stats.instances += len(requests)
        self.stats.model_calls += 1 if requests else 0
        if progress is not None and requests:
            progress(len(requests))
        return out

    def next_token_logprobs(
        self,
        contexts: Sequence[str],
        suffixes: Sequence[str] | None = None,
        *,
        top_k: int | None = None,
    ) -> TokenLogprobs:
        vocab = self._vocabulary
        rows = np.array(
            [[self._word_logprob(c, w.strip()) for w in vocab] for c in contexts], dtype=np.float64
        )
        rows = rows - np.logaddexp.reduce(rows, axis=1, keepdims=True) if len(vocab) else rows
        if top_k is not None and top_k < len(vocab):
            cut = np.sort(rows, axis=1)[:, -top_k][:, None]
            rows = np.where(rows >= cut, rows, -np.inf)
        self.stats.model_calls += 1 if contexts else 0
        return TokenLogprobs(vocab, rows.astype(np.float32))

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        settings: GenerationSettings,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        self.check_text(requests)
        self._record("generate", [r.full_context + "\x1f" + settings.id for r in requests])
        out = []
        for i, r in enumerate(requests):
            keys = [k for k in self.answers if k and k in r.context]
            answer = self.answers[max(keys, key=len)] if keys else "unknown"
            salt = (settings.seed + i) if settings.do_sample else "greedy"
            if _unit(self.seed, "wrong", r.full_context, salt) < self.wrong_rate:
                answer = "unknown"
            text = " " + answer + "\n"
            cut = min((p for p in (text.find(s) for s in settings.stop) if p >= 0), default=len(text))
            tokens = _TOKEN.findall(text[:cut])[: settings.max_new_tokens]
            out.append("".join(tokens))
            self.stats.generated_tokens += len(tokens)
        self.stats.instances += len(requests)
        if progress is not None and requests:
            progress(len(requests))
        return out


register_backend(FakeBackend)

"""The language-model backend protocol: log-likelihoods, next-token distributions, generation.

Everything above this layer (scorers, generators, the search engine) talks to a model only
through :class:`LMBackend`, never through ``transformers`` objects. A backend is registered
by name in :data:`backends` and built with :func:`load_backend`; adding one (vLLM, a server)
is one module with a subclass plus one :func:`register_backend` call. See
``docs/architecture.md`` for a documented skeleton.
"""

from __future__ import annotations

import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from promptsearch._limits import env_limit
from promptsearch._registry import Registry
from promptsearch.exceptions import ConfigError, ModelError, TemplateError
from promptsearch.templates._template import SOFT_MARKER

__all__ = [
    "BackendLoader",
    "BackendStats",
    "Capabilities",
    "GenerationRequest",
    "GenerationSettings",
    "LMBackend",
    "LoglikelihoodRequest",
    "ProgressCallback",
    "TokenLogprobs",
    "backends",
    "check_options",
    "length_batches",
    "load_backend",
    "register_backend",
]

_logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score each continuation after ``prefix + context`` (and before ``suffix``).

    Attributes:
        context: The example's own text up to where the continuations go.
        continuations: Texts whose log-probability is wanted, each right after the context.
        prefix: Text shared by many requests (instruction, demonstrations): a backend may
            compute it once for all of them.
        suffix: Text after the continuation slot (read by masked and encoder-decoder models).
    """

    context: str
    continuations: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    @property
    def full_context(self) -> str:
        return self.prefix + self.context


@dataclass(frozen=True)
class GenerationRequest:
    """Generate a continuation of ``prefix + context`` (``prefix`` as for log-likelihoods)."""

    context: str
    prefix: str = ""

    @property
    def full_context(self) -> str:
        return self.prefix + self.context


#: Longest answer a generation may ask for (``PROMPTSEARCH_MAX_NEW_TOKENS`` raises it).
MAX_NEW_TOKENS = 2048


def max_new_tokens_limit() -> int:
    """:data:`MAX_NEW_TOKENS`, or the value of ``PROMPTSEARCH_MAX_NEW_TOKENS``."""
    return env_limit("PROMPTSEARCH_MAX_NEW_TOKENS", MAX_NEW_TOKENS)


@dataclass(frozen=True)
class GenerationSettings:
    """How to generate: greedy by default; sampling is seeded per request.

    Attributes:
        max_new_tokens: Longest continuation, in tokens.
        stop: Generation ends before the first of these strings (they are not returned).
        do_sample: Sample (with ``temperature`` and ``top_p``) instead of greedy decoding.
        temperature: Softmax temperature of sampling.
        top_p: Nucleus mass of sampling.
        seed: Seed of request ``i``'s sampler is ``seed + i`` (0 is a valid seed), so a text
            does not depend on its batch-mates.
    """

    max_new_tokens: int = 32
    stop: tuple[str, ...] = ("\n",)
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", tuple(self.stop))
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int):
            raise ConfigError(f"max_new_tokens must be a whole number, got {self.max_new_tokens!r}.")
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}.")
        limit = max_new_tokens_limit()
        if self.max_new_tokens > limit:
            raise ConfigError(
                f"max_new_tokens={self.max_new_tokens} is more than the limit of {limit}: answers that "
                "long outgrow the models' context windows (set PROMPTSEARCH_MAX_NEW_TOKENS to raise it)."
            )
        if any(not isinstance(s, str) for s in self.stop):
            raise ConfigError(f"Stop strings must be text, got {list(self.stop)!r}.")
        if any(not s for s in self.stop):
            raise ConfigError("Stop strings must not be empty.")
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ConfigError(
                f"Sampling needs temperature > 0 and 0 < top_p <= 1, got {self.temperature}, {self.top_p}."
            )

    @property
    def id(self) -> str:
        """Content hash, part of the cache key of generated texts."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TokenLogprobs:
    """Next-token log-probabilities of several contexts over one vocabulary.

    Attributes:
        vocabulary: Token texts as they read in running text: a leading space marks a token
            that starts a word (``" good"``); continuation pieces have none (``"ing"``);
            special tokens are ``""``.
        logprobs: ``(n_contexts, len(vocabulary))``; ``-inf`` for tokens outside a top-k.
    """

    vocabulary: tuple[str, ...]
    logprobs: np.ndarray


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do.

    Attributes:
        generate: :meth:`LMBackend.generate` works.
        next_token_logprobs: :meth:`LMBackend.next_token_logprobs` works.
        full_vocabulary: It returns the whole vocabulary (else a top-k only).
        trainable: Tuning modes (prompt tuning, LoRA, ...) can train on it; it then has a
            ``loaded`` attribute holding a :class:`~promptsearch.models.LoadedModel`.
    """

    generate: bool = True
    next_token_logprobs: bool = True
    full_vocabulary: bool = True
    trainable: bool = False


@dataclass
class BackendStats:
    """Work counters, for benchmarks and the efficiency report.

    Attributes:
        instances: Requests answered (one per prompt instance).
        model_calls: Forward calls of the model.
        tokens: Real (non-padding) tokens fed to the model.
        generated_tokens: Tokens generated.
    """

    instances: int = 0
    model_calls: int = 0
    tokens: int = 0
    generated_tokens: int = 0

    def reset(self) -> None:
        self.instances = self.model_calls = self.tokens = self.generated_tokens = 0


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Yield index batches, longest first, so that padding is minimal.

    The caller scatters results back by index, so original order is restored.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


class LMBackend(ABC):
    """A language model as promptsearch uses it.

    Subclasses implement :meth:`loglikelihood`, :meth:`generate` and :meth:`count_tokens`,
    set :attr:`name` and :attr:`capabilities`, and may override :meth:`next_token_logprobs`,
    :meth:`truncate_text`, :attr:`max_length` and :meth:`chat_prompt`. Results must not
    depend on the batch size or on the order of the requests, and log-probabilities are
    natural logs computed in float32 or better. The conformance suite in
    ``tests/backends/conformance.py`` checks all of this for every backend.

    Args:
        batch_size: Sequences per forward call; ``None`` lets the backend choose.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    #: The name the backend is registered under (recorded in exported prompts).
    registry_name: ClassVar[str] = ""
    #: Options that say where the model runs, not what it computes (a server's address,
    #: timeouts): they may differ between the runs and workers of one study.
    deployment_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, batch_size: int | None = None) -> None:
        self.batch_size = batch_size or 16
        self.stats = BackendStats()
        self._warned_truncation = False

    # -- identity ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def name(self) -> str:
        """The model's name as users gave it (catalog name, folder, hub id, server URL)."""

    @property
    def model_id(self) -> str:
        """A stable id for caches of scores and texts: the model and anything that changes its
        outputs (dtype, trained weights), not the device."""
        return self.name

    @property
    def max_length(self) -> int:
        """Longest sequence (in tokens) the model accepts."""
        return 2048

    # -- the protocol -----------------------------------------------------------------------
    @abstractmethod
    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        """For every request, the total log-probability of each of its continuations."""

    @abstractmethod
    def generate(
        self,
        requests: Sequence[GenerationRequest],
        settings: GenerationSettings,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        """One continuation per request, cut before the first stop string."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` (no special tokens)."""

    def next_token_logprobs(
        self,
        contexts: Sequence[str],
        suffixes: Sequence[str] | None = None,
        *,
        top_k: int | None = None,
    ) -> TokenLogprobs:
        """Distribution of the token that follows each context (masked LMs: at a mask placed
        between context and suffix), over the whole vocabulary or its ``top_k`` tokens."""
        raise ModelError(f"The {self.name!r} backend cannot give next-token distributions.")

    # -- helpers with defaults --------------------------------------------------------------
    def truncate_text(self, text: str, n_tokens: int) -> str:
        """Keep the first ``n_tokens`` tokens of ``text`` (by default: whole words)."""
        words = text.split(" ")
        lo, hi = 0, len(words)
        while lo < hi:  # Longest word prefix within the budget.
            mid = (lo + hi + 1) // 2
            if self.count_tokens(" ".join(words[:mid])) <= n_tokens:
                lo = mid
            else:
                hi = mid - 1
        return " ".join(words[:lo])

    def chat_prompt(self, message: str) -> str:
        """``message`` as a user turn of the model's chat format, ready for :meth:`generate`."""
        return message + "\n"

    def check_text(self, requests: Sequence[LoglikelihoodRequest | GenerationRequest]) -> None:
        """Refuse prompts with soft tokens: only soft-prompt backends can fill them."""
        for r in requests:
            if SOFT_MARKER in r.full_context or SOFT_MARKER in getattr(r, "suffix", ""):
                raise TemplateError(
                    "This prompt has {soft:N} slots, which need trained embeddings; score it with a "
                    "soft-prompt scorer from promptsearch.tuning (or remove the {soft:N} slot)."
                )

    def warn_truncation_once(self, detail: str) -> None:
        """Log one warning per backend that inputs were truncated."""
        if not self._warned_truncation:
            _logger.warning(
                "Some inputs are longer than the model's context (%d tokens) and were truncated "
                "(the template is kept whole): %s",
                self.max_length,
                detail,
            )
            self._warned_truncation = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


BackendLoader = Callable[..., LMBackend]
"""``loader(model, *, dtype, device, batch_size, **options) -> backend``."""

#: Backend name -> loader (``"module:attr"`` entries are imported on first use).
backends: Registry[BackendLoader] = Registry("backend")


def register_backend(name: str | type[LMBackend], loader: BackendLoader | str | None = None) -> None:
    """Register how to build a backend: a backend class under its own ``registry_name`` with its
    ``load`` classmethod (``register_backend(MyBackend)``, one spelling of the name), or a
    ``name`` with a loader function (or a lazy ``"module:attr"`` path to one).

    The loader is called as ``loader(model, *, dtype, device, batch_size, **options)`` by
    :func:`load_backend`.
    """
    if isinstance(name, type):
        if not name.registry_name:
            raise ValueError(f"{name.__name__} has no registry_name; set the class attribute.")
        backends.register(name.registry_name, loader if loader is not None else name.load)  # type: ignore[attr-defined]
        return
    if loader is None:
        raise ValueError(f"register_backend({name!r}) needs the loader that builds the backend.")
    backends.register(name, loader)


def load_backend(
    name: str,
    model: Any,
    *,
    dtype: str = "auto",
    device: str = "auto",
    batch_size: int | None = None,
    **options: Any,
) -> LMBackend:
    """Build the backend registered as ``name`` for ``model``.

    Args:
        name: A registered backend (``hf``, ``fake``, or one a plugin registered).
        model: What the backend loads: a catalog name, folder or hub id for ``hf`` (or an
            already built backend, returned as is).
        dtype, device, batch_size: Passed to the backend's ``load``.
        **options: Backend-specific options (the space's ``backend.options``).

    Example:
        >>> backend = load_backend("fake", "toy")
        >>> backend.loglikelihood([LoglikelihoodRequest("It was", (" good", " bad"))])[0].shape
        (2,)
    """
    if isinstance(model, LMBackend):
        return model
    loader = backends.get(name)
    kwargs = dict(dtype=dtype, device=device, batch_size=batch_size, **options)
    check_options(loader, kwargs, f"backend {name!r}", model)
    backend = loader(model, **kwargs)
    return backend


def check_options(function: Callable[..., Any], options: dict[str, Any], what: str, *args: Any) -> None:
    """Raise :class:`ConfigError` when ``function(*args, **options)`` would not bind.

    Backends whose ``load`` takes ``**options`` call it again on the constructor they pass
    them to, so that a misspelt option is a clear error, not a ``TypeError`` from deep inside.
    """
    import inspect

    try:
        inspect.signature(function).bind(*args, **options)
    except TypeError as exc:
        extra = sorted(k for k in options if k not in ("dtype", "device", "batch_size"))
        raise ConfigError(f"{what} does not take the options {extra} ({exc}).") from None

"""The scorer interface: log-likelihoods of label words after rendered prompts."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from promptsearch._registry import Registry
from promptsearch.templates._prompt import PromptInstance

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel

__all__ = ["BaseScorer", "ScorerStats", "length_batches", "make_scorer", "scorers"]

_logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]


@dataclass
class ScorerStats:
    """Work counters, for benchmarks and the efficiency report.

    Attributes:
        instances: Examples scored (one per prompt instance).
        model_calls: Forward calls of the model.
        tokens: Real (non-padding) tokens fed to the model.
    """

    instances: int = 0
    model_calls: int = 0
    tokens: int = 0

    def reset(self) -> None:
        self.instances = self.model_calls = self.tokens = 0


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Yield index batches, longest first, so that padding is minimal.

    The caller scatters results back by index, so original order is restored.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


class BaseScorer(ABC):
    """Scores the choices of :class:`PromptInstance` objects with a language model.

    Subclasses implement :meth:`score_instances` only. Scores are total log-probabilities
    (natural log, computed in float32 even when the model runs in bfloat16) and do not
    depend on the batch size or on the order of the instances.

    Args:
        model: A loaded model (see :func:`promptsearch.models.load_model`).
        batch_size: Sequences per forward call; ``None`` picks 32 on GPU and 16 on CPU.
    """

    def __init__(self, model: LoadedModel, *, batch_size: int | None = None) -> None:
        self.model = model
        self.batch_size = batch_size or (32 if str(model.device).startswith("cuda") else 16)
        self.stats = ScorerStats()
        self._warned_truncation = False

    def check_text(self, instances: Sequence[PromptInstance]) -> None:
        """Refuse prompts with soft tokens: only soft-prompt scorers can fill them."""
        from promptsearch.exceptions import TemplateError
        from promptsearch.templates._template import SOFT_MARKER

        if any(SOFT_MARKER in i.full_context or SOFT_MARKER in i.suffix for i in instances):
            raise TemplateError(
                "This prompt has {soft:N} slots, which need trained embeddings; score it with a "
                "soft-prompt scorer from promptsearch.tuning (or remove the {soft:N} slot)."
            )

    @abstractmethod
    def score_instances(
        self, instances: Sequence[PromptInstance], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        """Return, for every instance, the log-probability of each of its choices."""

    def next_token_log_probs(
        self, contexts: Sequence[str], suffixes: Sequence[str] | None = None
    ) -> np.ndarray:
        """Log-distribution over the vocabulary of the token that follows each context.

        Returns an array of shape ``(len(contexts), vocab_size)``. Used to propose words
        (automatic label words, model-based substitutions). Masked LMs read it at a mask
        placed between context and suffix.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot propose next tokens.")

    @property
    def max_length(self) -> int:
        """Longest sequence (in tokens) the model accepts."""
        return int(self.model.max_length)

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` without special tokens."""
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def truncate_text(self, text: str, n_tokens: int) -> str:
        """Keep the first ``n_tokens`` tokens of ``text``."""
        tok = self.model.tokenizer
        ids = tok(text, add_special_tokens=False)["input_ids"][: max(0, n_tokens)]
        decoded: str = tok.decode(ids, skip_special_tokens=True)
        return decoded

    def warn_truncation_once(self, detail: str) -> None:
        """Log one warning per scorer that inputs were truncated."""
        if not self._warned_truncation:
            _logger.warning(
                "Some inputs are longer than the model's context (%d tokens) and were truncated "
                "(the template is kept whole): %s",
                self.max_length,
                detail,
            )
            self._warned_truncation = True


scorers: Registry[type[BaseScorer]] = Registry("scorer")
scorers.register("causal", "promptsearch.scoring._causal:CausalLMScorer")
scorers.register("masked", "promptsearch.scoring._masked:MaskedLMScorer")
scorers.register("seq2seq", "promptsearch.scoring._seq2seq:Seq2SeqScorer")


def make_scorer(model: LoadedModel, *, batch_size: int | None = None, **kwargs: Any) -> BaseScorer:
    """Return the scorer registered for the model's kind (``causal``, ``masked``, ``seq2seq``)."""
    cls = scorers.get(str(getattr(model.kind, "value", model.kind)))
    return cls(model, batch_size=batch_size, **kwargs)

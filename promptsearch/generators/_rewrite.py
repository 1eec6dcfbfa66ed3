"""Paraphrase an instruction with an instruction-following language model."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from promptsearch.exceptions import ConfigError, ModelError
from promptsearch.generators._candidate import Candidate
from promptsearch.generators._operators import BaseOperator, register_operator
from promptsearch.generators._text import Edit

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend

__all__ = ["REWRITE_REQUEST", "RewriteOperator", "clean_rewrite"]

_logger = logging.getLogger(__name__)

#: The request sent to the model; ``{instruction}`` is replaced by the instruction.
REWRITE_REQUEST = (
    "Rewrite this instruction in different words, keeping its meaning. "
    "Reply with the rewritten instruction only.\nInstruction: {instruction}"
)
_LEADING_LABEL = re.compile(
    r"^(?:new |rewritten |paraphrased )?(?:instruction|rewritten|paraphrase)\s*:\s*", re.IGNORECASE
)
_QUOTES = " \t\"'`*“”‘’"


def clean_rewrite(text: str, original: str, max_chars: int) -> str | None:
    """First line of a generated text, unquoted; ``None`` if unusable.

    Rejected: empty lines, lines longer than ``max_chars``, lines with braces (they would
    read as template slots downstream), with control characters or undecodable bytes, and
    copies of ``original``.
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    line = _LEADING_LABEL.sub("", lines[0].strip()).strip(_QUOTES)
    line = " ".join(line.split())
    if not line or len(line) > max_chars or "{" in line or "}" in line:
        return None
    if "\ufffd" in line or not line.isprintable():
        return None
    if line.lower() == " ".join(original.split()).lower():
        return None
    return line


class RewriteOperator(BaseOperator):
    """Asks an instruction-following model to paraphrase the instruction (GrIPS "paraphrase").

    The request goes through the backend's chat format (:meth:`LMBackend.chat_prompt`). ``n``
    continuations are sampled (nucleus sampling, each seeded from ``rng``); the first line of
    each, unquoted, becomes the new instruction. Unusable outputs are dropped, so a weak model
    may yield no candidates. Candidates without an instruction are not rewritten.

    Args:
        model: A backend that generates (or a ``LoadedModel``, wrapped in the ``hf`` backend).
        max_new_tokens: Generation length.
        top_p: Nucleus sampling mass.
        max_chars: Longest accepted instruction.

    Example:
        >>> from promptsearch.backends import load_backend
        >>> op = RewriteOperator(load_backend("hf", "HuggingFaceTB/SmolLM2-360M-Instruct"))  # doctest: +SKIP
        >>> op.propose(Candidate("Classify the review.", "{text}{label}"),
        ...            np.random.default_rng(0), 4)  # doctest: +SKIP
    """

    name = "rewrite"
    injected = ("model",)
    default_enabled = False  # It needs an instruction-following model and is slow.

    def __init__(
        self, model: Any, *, max_new_tokens: int = 40, top_p: float = 0.9, max_chars: int = 300
    ) -> None:
        from promptsearch.backends import LMBackend
        from promptsearch.scoring import make_scorer

        backend: LMBackend = model if isinstance(model, LMBackend) else make_scorer(model)
        if not backend.capabilities.generate:
            raise ModelError(
                f"RewriteOperator needs a model that can generate text; {backend.name!r} cannot (a masked "
                "LM?). Use an instruct model, e.g. 'HuggingFaceTB/SmolLM2-360M-Instruct'."
            )
        self.model = backend
        self.max_new_tokens = max_new_tokens
        self.top_p = top_p
        self.max_chars = max_chars

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], *, backend: LMBackend | None = None) -> BaseOperator:
        if backend is None:
            raise ConfigError("operators.rewrite needs the search's model to generate rewrites.")
        return cls(backend, **settings)

    def __repr__(self) -> str:
        return f"RewriteOperator(model={self.model.name!r})"

    def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        if not parent.instruction.strip() or n <= 0:
            return []
        texts = self._generate(parent.instruction, int(rng.integers(2**31 - 1)), n)
        edits = []
        for text in texts:
            line = clean_rewrite(text, parent.instruction, self.max_chars)
            if line is None:
                _logger.debug("rewrite: rejected output %r", text[:80])
                continue
            edits.append(Edit(line, parent.template, f"rewrite by {self.model.name}"))
        return self._emit([parent], edits, n)

    def _generate(self, instruction: str, seed: int, n: int) -> list[str]:
        from promptsearch.backends import GenerationRequest, GenerationSettings

        request = GenerationRequest(self.model.chat_prompt(REWRITE_REQUEST.format(instruction=instruction)))
        settings = GenerationSettings(
            max_new_tokens=self.max_new_tokens, stop=(), do_sample=True, top_p=self.top_p, seed=seed
        )
        return self.model.generate([request] * n, settings)


register_operator(RewriteOperator)

"""Paraphrase an instruction with an instruction-following language model."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from promptsearch.exceptions import ModelError
from promptsearch.generators._candidate import Candidate
from promptsearch.generators._operators import BaseOperator
from promptsearch.generators._text import Edit

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel

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

    The request uses the tokenizer's chat template when it has one, else a plain
    ``Instruction: ...\\nRewritten:`` prompt. ``n`` continuations are sampled (nucleus
    sampling, seeded from ``rng`` without touching the global torch random state); the first
    line of each, unquoted, becomes the new instruction. Unusable outputs are dropped, so a
    weak model may yield no candidates. Candidates without an instruction are not rewritten.

    Args:
        model: A causal or seq2seq :class:`~promptsearch.models.LoadedModel`.
        max_new_tokens: Generation length.
        top_p: Nucleus sampling mass.
        max_chars: Longest accepted instruction.

    Example:
        >>> from promptsearch.models import load_model
        >>> op = RewriteOperator(load_model("HuggingFaceTB/SmolLM2-360M-Instruct"))  # doctest: +SKIP
        >>> op.propose(Candidate("Classify the review.", "{text}{label}"),
        ...            np.random.default_rng(0), 4)  # doctest: +SKIP
    """

    name = "rewrite"

    def __init__(
        self, model: LoadedModel, *, max_new_tokens: int = 40, top_p: float = 0.9, max_chars: int = 300
    ) -> None:
        kind = str(getattr(model.kind, "value", model.kind))
        if kind not in ("causal", "seq2seq"):
            raise ModelError(
                f"RewriteOperator needs a causal or seq2seq model that can generate text; {model.name!r} is "
                f"a {kind} model. Load an instruct model, e.g. 'HuggingFaceTB/SmolLM2-360M-Instruct'."
            )
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.top_p = top_p
        self.max_chars = max_chars

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

    def _encode(self, instruction: str) -> Any:
        tok = self.model.tokenizer
        request = REWRITE_REQUEST.format(instruction=instruction)
        if getattr(tok, "chat_template", None):
            messages = [{"role": "user", "content": request}]
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return tok(text, add_special_tokens=False, return_tensors="pt")
        return tok(request + "\nRewritten:", return_tensors="pt")

    def _generate(self, instruction: str, seed: int, n: int) -> list[str]:
        import torch

        tok = self.model.tokenizer
        model = self.model.model
        device = next(model.parameters()).device
        enc = self._encode(instruction)
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            out = model.generate(
                input_ids=enc["input_ids"].to(device),
                attention_mask=enc["attention_mask"].to(device),
                do_sample=True,
                top_p=self.top_p,
                max_new_tokens=self.max_new_tokens,
                num_return_sequences=n,
                pad_token_id=tok.pad_token_id,
            )
        if not getattr(model.config, "is_encoder_decoder", False):
            out = out[:, enc["input_ids"].shape[1] :]
        texts: list[str] = tok.batch_decode(out, skip_special_tokens=True)
        return texts

"""The Hugging Face ``transformers`` backend: what every model kind shares.

:class:`HFBackend` holds a :class:`~promptsearch.models.LoadedModel` and what every model
kind shares (tokens, truncation, vocabulary, chat format, generation); one subclass per kind
implements log-likelihoods (``_hf_causal``, ``_hf_masked``, ``_hf_seq2seq``), and
``_hf_load`` picks the subclass. Build it with ``load_backend("hf", model)`` or
:func:`~promptsearch.backends.hf_backend`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from promptsearch.backends._base import (
    Capabilities,
    GenerationRequest,
    GenerationSettings,
    LMBackend,
    ProgressCallback,
)

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel

__all__ = ["HFBackend"]


class HFBackend(LMBackend):
    """A ``transformers`` model behind the backend protocol (see :func:`hf_backend`).

    Args:
        model: A loaded model (see :func:`promptsearch.models.load_model`).
        batch_size: Sequences per forward call; ``None`` picks 32 on GPU and 16 on CPU.

    Attributes:
        model: The :class:`~promptsearch.models.LoadedModel`.
        loaded: The same (what tuning modes train on).
    """

    capabilities: ClassVar[Capabilities] = Capabilities(trainable=True)
    registry_name: ClassVar[str] = "hf"
    kind: ClassVar[str] = ""

    def __init__(self, model: LoadedModel, *, batch_size: int | None = None) -> None:
        super().__init__(batch_size=batch_size or (32 if str(model.device).startswith("cuda") else 16))
        self.model = model

    @property
    def loaded(self) -> LoadedModel:
        return self.model

    @property
    def name(self) -> str:
        return str(self.model.name)

    @property
    def model_id(self) -> str:
        return str(self.model.model_id)

    @property
    def max_length(self) -> int:
        return int(self.model.max_length)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def truncate_text(self, text: str, n_tokens: int) -> str:
        tok = self.model.tokenizer
        ids = tok(text, add_special_tokens=False)["input_ids"][: max(0, n_tokens)]
        decoded: str = tok.decode(ids, skip_special_tokens=True)
        return decoded

    def chat_prompt(self, message: str) -> str:
        tok = self.model.tokenizer
        if getattr(tok, "chat_template", None):
            text: str = tok.apply_chat_template(
                [{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False
            )
            return text
        return message + "\n"

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Token texts as in running text (see :class:`~promptsearch.backends.TokenLogprobs`)."""
        return _vocabulary(self.model.tokenizer, self.kind)

    def attention_scope(self) -> contextlib.AbstractContextManager[None]:
        """The context a forward call without a broadcast prefix runs in (the model's own
        attention here; the causal backend swaps in faster kernels)."""
        return contextlib.nullcontext()

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        settings: GenerationSettings,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        from promptsearch.backends._hf_generate import generate

        self.check_text(requests)
        return generate(self, requests, settings, progress)


@functools.lru_cache(maxsize=8)
def _vocabulary(tokenizer: Any, kind: str) -> tuple[str, ...]:
    """Decode every token id once: a leading space marks a word start (BPE ``Ġ``, SentencePiece
    ``▁``, WordPiece pieces without ``##``); special tokens become ``""``."""
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    size = len(tokenizer)
    out: list[str] = []
    for tid in range(size):
        if tid in special:
            out.append("")
            continue
        piece = str(tokenizer.convert_ids_to_tokens(tid))
        if kind == "masked":
            out.append(piece[2:] if piece.startswith("##") else " " + piece)
            continue
        text = str(tokenizer.decode([tid]))
        if piece.startswith("▁") and not text.startswith(" "):
            text = " " + text
        out.append(text)
    return tuple(out)

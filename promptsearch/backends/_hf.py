"""The Hugging Face ``transformers`` backend: causal, masked and encoder-decoder models.

:class:`HFBackend` holds a :class:`~promptsearch.models.LoadedModel` and what every model
kind shares (tokens, truncation, vocabulary, chat format, generation); one subclass per kind
implements log-likelihoods (``_hf_causal``, ``_hf_masked``, ``_hf_seq2seq``). Build it with
``load_backend("hf", model)`` or :meth:`HFBackend.load`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from promptsearch.backends._base import (
    Capabilities,
    GenerationRequest,
    GenerationSettings,
    LMBackend,
    ProgressCallback,
    register_backend,
)
from promptsearch.exceptions import ModelError

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel

__all__ = ["HFBackend", "hf_backend"]


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
    kind: ClassVar[str] = ""

    def __init__(self, model: LoadedModel, *, batch_size: int | None = None) -> None:
        super().__init__(batch_size=batch_size or (32 if str(model.device).startswith("cuda") else 16))
        self.model = model

    @classmethod
    def load(
        cls,
        model: Any,
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | None = None,
        kind: str | None = None,
        trust_remote_code: bool = False,
        **options: Any,
    ) -> HFBackend:
        """Load ``model`` (catalog name, folder, hub id or LoadedModel) into the right subclass.

        ``options`` go to the subclass (e.g. ``prefix_caching`` for causal models).
        """
        from promptsearch.models import load_model

        loaded = load_model(model, kind=kind, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
        return hf_backend(loaded, batch_size=batch_size, **options)

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

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        settings: GenerationSettings,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        from promptsearch.backends._hf_generate import generate

        self.check_text(requests)
        return generate(self, requests, settings, progress)


def hf_backend(model: LoadedModel, *, batch_size: int | None = None, **options: Any) -> HFBackend:
    """The backend class for the model's kind (``causal``, ``masked``, ``seq2seq``).

    Raises:
        ModelError: For a kind no backend handles.
    """
    from promptsearch.backends._hf_causal import HFCausalBackend
    from promptsearch.backends._hf_masked import HFMaskedBackend
    from promptsearch.backends._hf_seq2seq import HFSeq2SeqBackend

    kind = str(getattr(model.kind, "value", model.kind))
    by_kind: dict[str, type[HFBackend]] = {
        cls.kind: cls for cls in (HFCausalBackend, HFMaskedBackend, HFSeq2SeqBackend)
    }
    if kind not in by_kind:
        raise ModelError(f"No backend for {kind!r} models; use a causal, masked or seq2seq model.")
    return by_kind[kind](model, batch_size=batch_size, **options)


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


register_backend("hf", HFBackend)

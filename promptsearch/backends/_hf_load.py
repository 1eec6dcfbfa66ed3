"""Loading the ``hf`` backend: the model, then the subclass for its kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promptsearch.backends._base import check_options, register_backend
from promptsearch.backends._hf import HFBackend
from promptsearch.backends._hf_causal import HFCausalBackend
from promptsearch.backends._hf_masked import HFMaskedBackend
from promptsearch.backends._hf_seq2seq import HFSeq2SeqBackend
from promptsearch.exceptions import ModelError

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel

__all__ = ["hf_backend", "load_hf"]

_BY_KIND: dict[str, type[HFBackend]] = {
    cls.kind: cls for cls in (HFCausalBackend, HFMaskedBackend, HFSeq2SeqBackend)
}


def hf_backend(model: LoadedModel, *, batch_size: int | None = None, **options: Any) -> HFBackend:
    """The backend class for the model's kind (``causal``, ``masked``, ``seq2seq``).

    Raises:
        ModelError: For a kind no backend handles.
    """
    kind = str(getattr(model.kind, "value", model.kind))
    by_kind = _BY_KIND
    if kind not in by_kind:
        raise ModelError(f"No backend for {kind!r} models; use a causal, masked or seq2seq model.")
    check_options(
        by_kind[kind], {"batch_size": batch_size, **options}, f"backend 'hf' ({kind} models)", model
    )
    return by_kind[kind](model, batch_size=batch_size, **options)


def load_hf(
    model: Any,
    *,
    dtype: str = "auto",
    device: str = "auto",
    batch_size: int | None = None,
    kind: str | None = None,
    trust_remote_code: bool = False,
    **options: Any,
) -> HFBackend:
    """Load ``model`` (catalog name, folder, hub id or LoadedModel) into the backend of its kind.

    ``options`` go to the kind's backend (e.g. ``prefix_caching`` for causal models).
    """
    from promptsearch.models import load_model

    loaded = load_model(model, kind=kind, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
    return hf_backend(loaded, batch_size=batch_size, **options)


register_backend("hf", load_hf)

"""A faster CPU attention path for the ``hf`` backend's short rows.

Profiling the scorer in bfloat16 on CPU (zero-shot, SmolLM2) put 10% of the time in PyTorch's
flash attention for CPU, which is slow on the short rows of prompt scoring. With
:func:`short_attention`, while a forward call runs without gradients on CPU in bfloat16 or
float16, attention over short rows is a grouped matmul per key/value head (no ``repeat_kv``
copy), one softmax in float32 and a second matmul, as ``transformers``' eager attention
computes it. Longer rows, float32, GPUs, training and dropout go to SDPA as before.
``benchmarks/fast_kernels.py`` measures it against the model as loaded.

(``torch.nn.functional.rms_norm`` in place of ``transformers``' RMSNorm was tried too: on CPU
in bfloat16 it was no faster, so the model's norms are left as they are.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from promptsearch.backends._hf_tensors import config_allows, run_attention

__all__ = ["short_attention", "short_attention_supported"]

_ATTENTION = "promptsearch_short_rows"
#: Largest query x key rows for which the grouped matmul beats SDPA on CPU in half precision
#: (measured in bfloat16: 1.3-2.3x faster up to 128 x 128, slower beyond). In float32 the
#: grouped matmul was 1.1-1.2x faster only up to 64 x 64 and a whole scoring run was not faster
#: (benchmarks/vs_lm_eval.md), so float32 keeps SDPA.
_MAX_CELLS = 128 * 128
#: Dtypes whose short rows take the grouped matmul.
_DTYPES = ("bfloat16", "float16")


def short_attention_supported(model: Any) -> bool:
    """Whether :func:`short_attention` applies: a CPU model in bfloat16 or float16 whose
    attention goes through ``transformers``' attention interface with plain causal attention
    (SDPA or eager)."""
    weight = next(model.parameters())
    on_cpu = weight.device.type == "cpu" and str(weight.dtype).removeprefix("torch.") in _DTYPES
    return on_cpu and config_allows(model.config)


@contextlib.contextmanager
def short_attention(model: Any) -> Iterator[None]:
    """Within this block, ``model``'s attention over short rows runs as grouped matmuls.

    Only where :func:`short_attention_supported`; otherwise the block changes nothing.
    """
    if not short_attention_supported(model):
        yield
        return
    with run_attention(model, _ATTENTION, _short_rows_attention):
        yield


def _short_rows_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Eager attention with the query heads of one key/value head side by side.

    ``query`` is ``(B, H, L, D)``, ``key``/``value`` ``(B, Hkv, K, D)``, ``attention_mask`` a
    boolean ``(B, 1, L, K)`` mask, an additive float mask or ``None`` (causal). Returns
    ``(B, L, H, D)``. Masked scores take float32's lowest value, not -inf, so that a padding
    row masked entirely gives finite (unused) outputs instead of NaN.
    """
    import torch

    q_len, k_len = query.shape[2], key.shape[2]
    if (
        torch.is_grad_enabled()
        or dropout
        or query.device.type != "cpu"
        or str(query.dtype).removeprefix("torch.") not in _DTYPES
        or q_len * k_len > _MAX_CELLS
        or (attention_mask is None and not getattr(module, "is_causal", True))
    ):
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        out: tuple[Any, Any] = sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
        return out
    return _grouped_attention(query, key, value, attention_mask, scaling), None


def _grouped_attention(query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None) -> Any:
    """The computation of :func:`_short_rows_attention` for any dtype and length."""
    import torch

    b, h, q_len, d = query.shape
    kv_heads, k_len = key.shape[1], key.shape[2]
    groups = h // kv_heads
    scale = scaling if scaling is not None else d**-0.5
    scores = torch.matmul(query.reshape(b, kv_heads, groups * q_len, d), key.transpose(-1, -2))
    scores = scores.view(b, kv_heads, groups, q_len, k_len).float().mul_(scale)  # softmax in float32
    lowest = torch.finfo(torch.float32).min
    if attention_mask is None:
        causal = torch.ones((q_len, k_len), dtype=torch.bool, device=query.device).tril(k_len - q_len)
        scores.masked_fill_(~causal, lowest)
    elif attention_mask.dtype == torch.bool:
        scores.masked_fill_(~attention_mask[:, :, None, :, -k_len:], lowest)
    else:
        scores.add_(attention_mask[:, :, None, :, -k_len:].float())
    probs = torch.softmax(scores, dim=-1).to(value.dtype)
    out = torch.matmul(probs.view(b, kv_heads, groups * q_len, k_len), value)
    return out.view(b, h, q_len, d).transpose(1, 2).contiguous()

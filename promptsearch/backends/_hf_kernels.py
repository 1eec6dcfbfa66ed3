"""Faster CPU inference paths for the ``hf`` backend's models, checked against the originals.

Profiling the scorer in bfloat16 on CPU (zero-shot, SmolLM2) put 10% of the time in PyTorch's
flash attention for CPU, which is slow on the short rows of prompt scoring, and 5-7% in
RMSNorm, which ``transformers`` computes in 8 element-wise operators. Two replacements:

* :func:`short_attention`: while a forward call runs without gradients on CPU in bfloat16 or
  float16, attention over short rows is a grouped matmul per key/value head (no ``repeat_kv``
  copy), one softmax in float32 and a second matmul, as ``transformers``' eager attention
  computes it. Longer rows, float32, GPUs, training and dropout go to SDPA as before.
* :func:`fuse_rms_norms`: each RMSNorm module whose output equals
  ``torch.nn.functional.rms_norm`` (checked once on random inputs, per module class and
  dtype) runs it: one fused operator instead of eight. Norms computed otherwise (Gemma's
  ``1 + weight``) fail the check and keep their own forward.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["fuse_rms_norms", "short_attention", "short_attention_supported"]

_logger = logging.getLogger(__name__)

_ATTENTION = "promptsearch_short_rows"
_FUSED = "_promptsearch_fused_rms_norm"
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
    from promptsearch.backends._hf_tensors import config_allows

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
    _register()
    config = model.config
    previous = config._attn_implementation
    config._attn_implementation = _ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = previous


@functools.cache
def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(_ATTENTION, _short_rows_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(_ATTENTION, sdpa_mask)


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


def fuse_rms_norms(model: Any) -> int:
    """Make ``model``'s RMSNorm modules run ``torch.nn.functional.rms_norm``; return how many.

    A module qualifies when its class name ends in ``RMSNorm``, it has a one-dimensional
    ``weight`` and an ``eps`` or ``variance_epsilon``, and its own forward gives the same
    output on random inputs (float32: within 1e-5; half types: within two units of the last
    place). Calling it again changes nothing.
    """
    fused = 0
    checked: dict[tuple[type, Any], bool] = {}
    for module in model.modules():
        if getattr(module, _FUSED, False) or not type(module).__name__.endswith("RMSNorm"):
            continue
        weight = getattr(module, "weight", None)
        eps = getattr(module, "variance_epsilon", getattr(module, "eps", None))
        if weight is None or getattr(weight, "ndim", 0) != 1 or not isinstance(eps, float):
            continue
        key = (type(module), weight.dtype)
        if key not in checked:
            checked[key] = _same_output(module, float(eps))
        if checked[key]:
            module.forward = types.MethodType(functools.partial(_rms_norm, eps=float(eps)), module)
            setattr(module, _FUSED, True)
            fused += 1
    if fused:
        _logger.debug("%d RMSNorm modules run the fused rms_norm operator.", fused)
    return fused


def _rms_norm(module: Any, hidden_states: Any, eps: float) -> Any:
    import torch

    weight = module.weight
    return torch.nn.functional.rms_norm(hidden_states, weight.shape, weight, eps)


def _same_output(module: Any, eps: float) -> bool:
    import torch

    weight = module.weight
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn((2, 5, weight.shape[0]), generator=gen) * 3).to(device=weight.device, dtype=weight.dtype)
    try:
        with torch.no_grad():
            want = module(x).float()
            got = torch.nn.functional.rms_norm(x, weight.shape, weight, eps).float()
    except (RuntimeError, TypeError, ValueError):
        return False
    if got.shape != want.shape:
        return False
    if weight.dtype == torch.float32:
        tol = 1e-5 * (1.0 + want.abs())
    else:
        tol = 2.0 * torch.finfo(weight.dtype).eps * (1.0 + want.abs())
    return bool(((got - want).abs() <= tol).all())

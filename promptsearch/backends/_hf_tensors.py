"""Tensor helpers shared by the ``hf`` backend's scoring and generation."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["cache_argument", "left_pad", "output_cache"]


def cache_argument(model: Any) -> str:
    """Name of the forward argument taking a KV cache (``cache`` in transformers >= 5.x)."""
    model_class: Any = type(model)
    return _cache_argument_of(model_class)


@functools.cache
def _cache_argument_of(model_class: Any) -> str:
    import inspect

    params = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
    """Left-pad token id lists into ``(ids, attention_mask)`` tensors."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(list(r))
            mask[i, width - len(r) :] = 1
    return ids, mask


def output_cache(out: Any) -> Any:
    """The key/value cache of a model output (``cache`` in transformers >= 5.x)."""
    cache = getattr(out, "cache", None)
    return out.past_key_values if cache is None else cache

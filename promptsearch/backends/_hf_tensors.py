"""Tensor helpers shared by the ``hf`` backend's scoring and generation.

Besides padding and batching, this module keeps the key/values of shared prefixes (instruction
and demonstrations): :class:`PrefixStore` is a small LRU of them, bounded in bytes, and
:func:`attend_to_prefix` lets a batch attend to one stored prefix without copying it per row.
During such a call the model runs a registered attention function that reads the prefix's keys
and values with a batch of one and broadcasts them over the batch (a matmul over the prefix,
one over the batch's own keys, one softmax over both). Models whose attention does not go
through ``transformers``' attention interface, or that need more than plain causal attention
(sliding windows, soft-capping), fall back to a copy of the prefix per row
(:func:`repeated_cache`).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PrefixStore",
    "SharedPrefix",
    "attend_to_prefix",
    "broadcast_supported",
    "cache_argument",
    "compute_prefix",
    "config_allows",
    "left_pad",
    "output_cache",
    "repeated_cache",
    "run_attention",
    "token_batches",
]

_ATTENTION = "promptsearch_shared_prefix"
_ACTIVE: contextvars.ContextVar[SharedPrefix | None] = contextvars.ContextVar("shared_prefix", default=None)
_SUPPORTED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


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


def token_batches(lengths: Sequence[int], max_rows: int, max_tokens: int) -> Iterator[list[int]]:
    """Index batches, longest first, each within ``max_rows`` rows and ``max_tokens`` padded tokens.

    A batch's padded size is its row count times its longest length; a sequence longer than
    ``max_tokens`` gets a batch of its own. The caller scatters results back by index.

    >>> list(token_batches([5, 1, 3, 3], max_rows=8, max_tokens=10))
    [[0, 2], [3, 1]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batch: list[int] = []
    width = 0
    for i in order:
        if batch and (len(batch) >= max_rows or (len(batch) + 1) * width > max_tokens):
            yield batch
            batch = []
        if not batch:
            width = lengths[i]
        batch.append(i)
    if batch:
        yield batch


@dataclass(eq=False)
class SharedPrefix:
    """Key/values of one prefix, computed with a batch of one.

    Attributes:
        ids: The prefix's token ids (the key of the store).
        cache: The model's key/value cache object after the prefix.
        keys: Per layer, ``(1, kv_heads, len(ids), head_dim)``.
        values: Likewise.
    """

    ids: tuple[int, ...]
    cache: Any
    keys: tuple[Any, ...]
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        self._float: dict[int, tuple[Any, Any]] = {}

    @property
    def length(self) -> int:
        return len(self.ids)

    def float_kv(self, layer: int) -> tuple[Any, Any]:
        """Layer ``layer``'s keys, transposed, ``(kv_heads, head_dim, P)``, and values
        ``(kv_heads, P, head_dim)``, in float32 (made once, on first use)."""
        found = self._float.get(layer)
        if found is None:
            keys, values = self.keys[layer][0], self.values[layer][0]
            found = (keys.float().transpose(-1, -2).contiguous(), values.float().contiguous())
            self._float[layer] = found
        return found

    @property
    def nbytes(self) -> int:
        """Bytes held: key/values, and their float32 copies made so far."""
        tensors = (*self.keys, *self.values, *(t for pair in self._float.values() for t in pair))
        storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
        return int(sum(storages.values()))


class PrefixStore:
    """Least-recently-used prefix key/values, at most ``max_bytes`` in all.

    Scoring a prompt chunk by chunk (as the search does) then computes its instruction and
    demonstrations once. Keys are token ids, so a hit always holds exactly those tokens.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, ...], SharedPrefix] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self._entries.values())

    def __contains__(self, ids: Sequence[int]) -> bool:
        return tuple(ids) in self._entries

    def get(self, ids: Sequence[int]) -> SharedPrefix | None:
        found = self._entries.get(tuple(ids))
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(found.ids)
        return found

    def put(self, prefix: SharedPrefix) -> None:
        """Store ``prefix``, dropping the least recently used entries beyond the budget."""
        if prefix.nbytes > self.max_bytes:
            return
        self._entries[prefix.ids] = prefix
        self._entries.move_to_end(prefix.ids)
        total = self.nbytes
        while total > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            total -= dropped.nbytes

    def clear(self) -> None:
        self._entries.clear()


def compute_prefix(model: Any, ids: Sequence[int]) -> SharedPrefix:
    """Run ``ids`` (a batch of one) and keep their key/values."""
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([list(ids)], device=device), use_cache=True, logits_to_keep=1)
    cache = output_cache(out)
    layers = getattr(cache, "layers", None) or []
    keys = tuple(getattr(layer, "keys", None) for layer in layers)
    values = tuple(getattr(layer, "values", None) for layer in layers)
    if any(k is None for k in keys) or any(v is None for v in values):
        keys = values = ()
    return SharedPrefix(tuple(ids), cache, keys, values)


def repeated_cache(prefix: SharedPrefix, rows: int) -> Any:
    """A copy of the prefix's cache object with ``rows`` rows (the path without broadcasting)."""
    cache = copy.deepcopy(prefix.cache)
    cache.batch_repeat_interleave(rows)
    return cache


@contextlib.contextmanager
def attend_to_prefix(model: Any, prefix: SharedPrefix) -> Iterator[None]:
    """Within this block, every forward call of ``model`` attends to ``prefix`` first.

    Pass only the batch's own tokens (and its own cache, if any); position ids must count
    from ``prefix.length``. Needs :func:`broadcast_supported`.
    """
    token = _ACTIVE.set(prefix)
    try:
        with run_attention(model, _ATTENTION, _prefix_attention):
            yield
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def run_attention(model: Any, name: str, function: Any) -> Iterator[None]:
    """Within this block, ``model``'s attention layers call ``function`` (registered once under
    ``name`` in ``transformers``' attention interface, with SDPA's boolean masks)."""
    _register(name, function)
    config = model.config
    previous = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = previous


def broadcast_supported(model: Any) -> bool:
    """Whether :func:`attend_to_prefix` gives ``model`` the same outputs as a copied prefix.

    Plain causal self-attention through ``transformers``' attention interface only; checked once
    per model on six tokens.
    """
    known = _SUPPORTED.get(model)
    if known is None:
        known = config_allows(model.config) and _probe(model)
        _SUPPORTED[model] = known
    return known


def config_allows(config: Any) -> bool:
    """Plain causal self-attention through ``transformers``' attention interface (SDPA or eager):
    no soft-capping, no sliding window."""
    if getattr(config, "_attn_implementation", None) not in ("sdpa", "eager"):
        return False
    if getattr(config, "attn_logit_softcapping", None):
        return False
    layer_types = getattr(config, "layer_types", None)
    if layer_types:  # e.g. Qwen2 names every layer, with a sliding window set but unused
        return all(t == "full_attention" for t in layer_types)
    return not (getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True))


def _probe(model: Any) -> bool:
    """Compare the last logits of 2 rows (one left-padded) with and without the prefix path."""
    import torch

    device = next(model.parameters()).device
    vocab = int(model.config.vocab_size)
    ids = [(7 * i + 3) % vocab for i in range(1, 7)]
    try:
        with torch.inference_mode():
            whole = model(input_ids=torch.tensor([ids], device=device)).logits[0, -1].float()
            prefix = compute_prefix(model, ids[:3])
            if not prefix.keys:
                return False
            body = torch.tensor([ids[3:], [0, *ids[4:]]], device=device)
            mask = torch.tensor([[1, 1, 1], [0, 1, 1]], device=device)
            positions = torch.tensor([[3, 4, 5], [3, 3, 4]], device=device)
            with attend_to_prefix(model, prefix):
                out = model(input_ids=body, attention_mask=mask, position_ids=positions).logits[:, -1].float()
            short = model(input_ids=torch.tensor([[*ids[:3], *ids[4:]]], device=device)).logits[0, -1].float()
    except (RuntimeError, TypeError, ValueError, AttributeError, KeyError, IndexError):
        return False
    tol = 1e-3 if next(model.parameters()).dtype == torch.float32 else 5e-2
    scale = 1.0 + float(whole.abs().max())
    return bool((out[0] - whole).abs().max() <= tol * scale and (out[1] - short).abs().max() <= tol * scale)


@functools.cache
def _register(name: str, function: Any) -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(name, function)
    ALL_MASK_ATTENTION_FUNCTIONS.register(name, sdpa_mask)


def _prefix_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention over ``[prefix][own keys]``, the prefix broadcast from a batch of one.

    ``query`` is ``(B, H, L, D)``, ``key``/``value`` ``(B, Hkv, K, D)`` (the batch's own
    tokens), ``attention_mask`` a boolean ``(B, 1, L, K)`` mask, an additive float mask, or
    ``None`` (causal). Returns ``(B, L, H, D)`` as ``transformers`` expects. Computed in
    float32: the two parts are combined through their running maxima and sums, so neither the
    prefix nor its probabilities are ever copied per row.
    """
    import torch

    prefix = _ACTIVE.get()
    if prefix is None:
        raise RuntimeError("The shared-prefix attention ran outside attend_to_prefix().")
    pk, pv = prefix.float_kv(int(module.layer_idx))  # (Hkv, P, D), (Hkv, D, P) for the keys
    b, h, q_len, d = query.shape
    kv_heads, k_len = key.shape[1], key.shape[2]
    rows = (h // kv_heads) * q_len  # query rows per key/value head and batch entry
    scale = scaling if scaling is not None else d**-0.5
    q = query.float().reshape(b, kv_heads, rows, d) * scale
    # Every batch entry's query rows of one key/value head side by side: one matmul per head.
    by_head = q.transpose(0, 1).reshape(kv_heads, b * rows, d)
    prefix_scores = torch.bmm(by_head, pk)  # (Hkv, B*rows, P)
    own_scores = torch.matmul(q, key.float().transpose(-1, -2))  # (B, Hkv, rows, K)
    own_scores = own_scores.view(b, kv_heads, -1, q_len, k_len)
    if attention_mask is None:
        causal = torch.ones((q_len, k_len), dtype=torch.bool, device=query.device).tril(k_len - q_len)
        own_scores.masked_fill_(~causal, float("-inf"))
    elif attention_mask.dtype == torch.bool:
        own_scores.masked_fill_(~attention_mask[:, :, None, :, -k_len:], float("-inf"))
    else:
        own_scores.add_(attention_mask[:, :, None, :, -k_len:].float())
    own_scores = own_scores.view(b, kv_heads, rows, k_len)
    # Softmax over both parts without joining them: shift by the common maximum, exponentiate
    # in place, and divide the summed outputs by the summed weights.
    top = torch.maximum(
        prefix_scores.amax(-1).view(kv_heads, b, rows).transpose(0, 1), own_scores.amax(-1)
    ).unsqueeze(-1)  # (B, Hkv, rows, 1); finite: every row sees the whole prefix
    prefix_scores.sub_(top.transpose(0, 1).reshape(kv_heads, b * rows, 1)).exp_()
    own_scores.sub_(top).exp_()
    total = prefix_scores.sum(-1).view(kv_heads, b, rows).transpose(0, 1) + own_scores.sum(-1)
    out = torch.bmm(prefix_scores, pv).view(kv_heads, b, rows, d).transpose(0, 1)
    out = (out + torch.matmul(own_scores, value.float())) / total.unsqueeze(-1)
    return out.reshape(b, h, q_len, d).transpose(1, 2).contiguous().to(value.dtype), None

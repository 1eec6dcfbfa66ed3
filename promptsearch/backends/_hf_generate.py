"""Batched generation with ``transformers`` models.

Causal LMs: requests that share a ``prefix`` (instruction and demonstrations) have it computed
once (and kept in the backend's prefix store, as for log-likelihoods); the rest of each prompt
is length-sorted into left-padded batches (bounded in padded tokens) with position ids from the
mask, continuing after the prefix. The prompt runs once, then one token per step reuses the
key/value cache; rows that hit an end-of-sequence token, a stop string or ``max_new_tokens``
leave the batch at once (their cache rows are dropped). Greedy by default; sampling draws each
row from its own generator seeded with ``settings.seed + request index``, so no text depends on
its batch-mates.
Soft prompts (``promptsearch.tuning``) use the same loop through a hook: a backend with
``generation_rows`` and ``embed_rows`` gives token rows whose ids below 0 are soft tokens, and
their first forward pass runs on input embeddings.
Encoder-decoder models use ``model.generate`` (right padding needs no position ids).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from promptsearch.backends._base import (
    GenerationRequest,
    GenerationSettings,
    ProgressCallback,
    length_batches,
)
from promptsearch.backends._tokens import prefix_groups, start_tokens

if TYPE_CHECKING:
    import torch

    from promptsearch.backends._hf import HFBackend
    from promptsearch.backends._hf_tensors import SharedPrefix

__all__ = ["cut_at_stop", "generate"]

_logger = logging.getLogger(__name__)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (not including) the first occurrence of any stop string.

    >>> cut_at_stop(" Paris\\nQuestion:", ["\\n"])
    ' Paris'
    """
    cut = min((p for p in (text.find(s) for s in stop) if p >= 0), default=len(text))
    return text[:cut]


def generate(
    backend: HFBackend,
    requests: Sequence[GenerationRequest],
    settings: GenerationSettings,
    progress: ProgressCallback | None,
) -> list[str]:
    """One continuation per request (see the module docstring)."""
    if not requests:
        return []
    if backend.kind == "seq2seq":
        return _generate_seq2seq(backend, requests, settings, progress)
    return _generate_causal(backend, requests, settings, progress)


def _eos_ids(loaded: Any) -> set[int]:
    ids: set[int] = set()
    for value in (
        loaded.tokenizer.eos_token_id,
        getattr(loaded.model.generation_config, "eos_token_id", None),
    ):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids


def prompt_ids(
    backend: HFBackend, requests: Sequence[GenerationRequest], settings: GenerationSettings
) -> list[list[int]]:
    """Token ids of each prompt: the tokenizer's start tokens (BOS) unless the text already
    begins with them (a chat template writes its own), cut from the left to leave room for
    ``max_new_tokens``."""
    tok = backend.model.tokenizer
    start = start_tokens(tok)
    bos_text = tok.bos_token or ""
    fallback = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    budget = backend.max_length - settings.max_new_tokens
    rows = []
    for r, ids in zip(
        requests, tok([r.full_context for r in requests], add_special_tokens=False)["input_ids"]
    ):
        own_start = bool(bos_text) and r.full_context.startswith(bos_text)
        row = ([] if own_start else list(start)) + list(ids)
        if not row and fallback is not None:
            row = [int(fallback)]
        if len(row) > budget:  # Keep the end: it holds the query and where the answer starts.
            backend.warn_truncation_once(f"a generation prompt of {len(row)} tokens ({r.context[:40]!r}...)")
            row = row[len(row) - budget :]
        rows.append(row)
    return rows


def _pick(logits: torch.Tensor, settings: GenerationSettings, generators: Sequence[Any]) -> torch.Tensor:
    """Next token of each row: greedy, or sampled with the row's own generator."""
    import torch

    if not settings.do_sample:
        return logits.argmax(dim=-1).cpu()
    probs = torch.softmax(logits.float() / settings.temperature, dim=-1).cpu()
    if settings.top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(dim=-1) - sorted_p > settings.top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return torch.stack(
        [torch.multinomial(probs[r], 1, generator=generators[r])[0] for r in range(probs.shape[0])]
    )


def _generate_causal(
    backend: HFBackend,
    requests: Sequence[GenerationRequest],
    settings: GenerationSettings,
    progress: ProgressCallback | None,
) -> list[str]:
    from promptsearch.backends._hf_tensors import compute_prefix, token_batches

    # Hook for soft prompts: a backend with ``generation_rows`` gives the token rows itself, where
    # ids below 0 stand for soft tokens, and ``embed_rows`` embeds them (see _causal_batch).
    own_rows = getattr(backend, "generation_rows", None)
    rows = own_rows(requests, settings) if own_rows is not None else prompt_ids(backend, requests, settings)
    out = [""] * len(requests)
    eos = _eos_ids(backend.model)
    tok = backend.model.tokenizer
    start = start_tokens(tok)
    bos_text = tok.bos_token or ""
    store = getattr(backend, "prefixes", None)

    def encode_prefix(text: str) -> list[int]:
        own_start = bool(bos_text) and text.startswith(bos_text)
        return ([] if own_start else list(start)) + list(tok(text, add_special_tokens=False)["input_ids"])

    caching = bool(getattr(backend, "prefix_caching", False))
    groups = prefix_groups(
        [r.prefix if caching else "" for r in requests],
        rows,
        encode_prefix,
        min_tokens=int(getattr(backend, "min_shared_tokens", 16)),
        is_stored=lambda ids: store is not None and ids in store,
    )
    max_rows = int(getattr(backend, "max_rows", backend.batch_size))
    max_tokens = int(getattr(backend, "batch_tokens", 1 << 30))
    for indices, prefix_ids in groups:
        prefix = None
        if prefix_ids:
            shared = getattr(backend, "shared_prefix", None)
            prefix = (
                shared(prefix_ids) if shared is not None else compute_prefix(backend.model.model, prefix_ids)
            )
        bodies = [rows[i][len(prefix_ids) :] for i in indices]
        for batch in token_batches([len(b) for b in bodies], max_rows, max_tokens):
            texts = _causal_batch(
                backend,
                [bodies[j] for j in batch],
                [settings.seed + indices[j] for j in batch],
                settings,
                eos,
                prefix,
            )
            for j, text in zip(batch, texts):
                out[indices[j]] = text
            backend.stats.instances += len(batch)
            if progress is not None:
                progress(len(batch))
    return out


def _causal_batch(
    backend: HFBackend,
    rows: list[list[int]],
    seeds: list[int],
    settings: GenerationSettings,
    eos: set[int],
    prefix: SharedPrefix | None = None,
) -> list[str]:
    """Generate after each row (and after ``prefix``, shared by all rows, when given).

    With a prefix the rows attend to its stored key/values (broadcast where the model allows,
    else a per-row copy of them) and positions continue after it. A backend with
    ``embed_rows(ids) -> embeddings`` (soft prompts, whose rows hold ids below 0 for soft
    tokens) runs the prompt as ``inputs_embeds``; the generated tokens are ordinary ids.
    """

    import torch

    from promptsearch.backends._hf_tensors import (
        attend_to_prefix,
        broadcast_supported,
        cache_argument,
        left_pad,
        output_cache,
        repeated_cache,
    )

    tok = backend.model.tokenizer
    model = backend.model.model
    device = next(model.parameters()).device
    ids, mask = left_pad(rows, tok.pad_token_id or 0)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    extra: dict[str, Any] = {}
    scope = backend.attention_scope()
    if prefix is not None:
        positions = positions + prefix.length
        if broadcast_supported(model):
            scope = attend_to_prefix(model, prefix)
        else:
            extra[cache_argument(model)] = repeated_cache(prefix, len(rows))
            mask = torch.cat([torch.ones((len(rows), prefix.length), dtype=mask.dtype), mask], dim=1)
    generators = (
        [torch.Generator().manual_seed(s) for s in seeds] if settings.do_sample else [None] * len(rows)
    )
    generated: list[list[int]] = [[] for _ in rows]
    active = list(range(len(rows)))
    embed_rows = getattr(backend, "embed_rows", None)  # soft prompts: the prompt runs as embeddings
    with torch.inference_mode(), scope:
        first = {"inputs_embeds": embed_rows(ids.to(device))} if embed_rows else {"input_ids": ids.to(device)}
        result = model(
            **first,
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            use_cache=True,
            logits_to_keep=1,
            **extra,
        )
        backend.stats.model_calls += 1
        backend.stats.tokens += sum(len(r) for r in rows)
        next_pos = positions[:, -1] + 1
        while True:
            tokens = _pick(result.logits[:, -1, :], settings, [generators[a] for a in active])
            keep = _still_running(backend, tokens, active, generated, settings, eos)
            if not keep:
                break
            cache = output_cache(result)
            if len(keep) < len(active):  # finished rows leave the batch (and the cache)
                index = torch.tensor(keep, dtype=torch.long)
                cache.reorder_cache(index.to(device))
                mask, next_pos, tokens = mask[index], next_pos[index], tokens[index]
                active = [active[k] for k in keep]
            mask = torch.cat([mask, torch.ones((len(active), 1), dtype=mask.dtype)], dim=1)
            result = model(
                input_ids=tokens[:, None].to(device),
                attention_mask=mask.to(device),
                position_ids=next_pos[:, None].to(device),
                use_cache=True,
                **{cache_argument(model): cache},
            )
            backend.stats.model_calls += 1
            backend.stats.tokens += len(active)
            next_pos = next_pos + 1
    return [cut_at_stop(tok.decode(g, skip_special_tokens=True), settings.stop) for g in generated]


def _still_running(
    backend: HFBackend,
    tokens: torch.Tensor,
    active: list[int],
    generated: list[list[int]],
    settings: GenerationSettings,
    eos: set[int],
) -> list[int]:
    """Append each active row's new token; return the positions (in ``active``) that go on.

    A row stops at an end-of-sequence token, at ``max_new_tokens`` or once its text holds a
    stop string.
    """
    tok = backend.model.tokenizer
    keep: list[int] = []
    for k, a in enumerate(active):
        token = int(tokens[k])
        if token in eos:
            continue
        generated[a].append(token)
        backend.stats.generated_tokens += 1
        if len(generated[a]) >= settings.max_new_tokens:
            continue
        if settings.stop:
            text = tok.decode(generated[a], skip_special_tokens=True)
            if any(s in text for s in settings.stop):
                continue
        keep.append(k)
    return keep


def _generate_seq2seq(
    backend: HFBackend,
    requests: Sequence[GenerationRequest],
    settings: GenerationSettings,
    progress: ProgressCallback | None,
) -> list[str]:
    import torch

    tok = backend.model.tokenizer
    model = backend.model.model
    device = next(model.parameters()).device
    sources = [r.full_context for r in requests]
    lengths = [len(x) for x in tok(sources, add_special_tokens=True)["input_ids"]]
    size = 1 if settings.do_sample else backend.batch_size  # one seed per request when sampling
    out = [""] * len(requests)
    for batch in length_batches(lengths, size):
        enc = tok(
            [sources[i] for i in batch],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=backend.max_length,
        )
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(settings.seed + batch[0])
            ids = model.generate(
                input_ids=enc["input_ids"].to(device),
                attention_mask=enc["attention_mask"].to(device),
                max_new_tokens=settings.max_new_tokens,
                do_sample=settings.do_sample,
                temperature=settings.temperature if settings.do_sample else None,
                top_p=settings.top_p if settings.do_sample else None,
                pad_token_id=tok.pad_token_id,
            )
        backend.stats.model_calls += 1
        backend.stats.tokens += int(enc["attention_mask"].sum())
        for i, row in zip(batch, ids):
            out[i] = cut_at_stop(tok.decode(row, skip_special_tokens=True), settings.stop)
            backend.stats.generated_tokens += int((row != tok.pad_token_id).sum())
        backend.stats.instances += len(batch)
        if progress is not None:
            progress(len(batch))
    return out

"""Batched log-likelihoods with causal language models."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from promptsearch.backends._base import LoglikelihoodRequest, ProgressCallback, TokenLogprobs
from promptsearch.backends._hf import HFBackend
from promptsearch.backends._hf_kernels import short_attention
from promptsearch.backends._hf_tensors import (
    PrefixStore,
    SharedPrefix,
    attend_to_prefix,
    broadcast_supported,
    cache_argument,
    compute_prefix,
    left_pad,
    output_cache,
    repeated_cache,
    token_batches,
)
from promptsearch.backends._tokens import EncodedInstance, encode_continuations, prefix_groups, start_tokens
from promptsearch.exceptions import ModelError

__all__ = ["HFCausalBackend", "token_logprobs"]

_MAX_ROWS = 256  # rows per forward call when only the token budget limits a batch


class HFCausalBackend(HFBackend):
    """Log-likelihoods of continuations with a causal LM.

    * Contexts are left-padded in length-sorted batches, with attention masks and position
      ids taken from the mask, so scores do not depend on batch-mates. A batch holds at most
      ``batch_tokens`` padded tokens (and at most ``batch_size`` rows when one was given).
    * Only the logits of the last context position are computed (``logits_to_keep=1``):
      when every label word is one token, that single next-token distribution scores all
      labels, one forward pass per example.
    * Words of several tokens reuse the context's key/value cache: only the word's tokens
      run again.
    * Shared-prefix caching: the instruction and demonstrations of a prompt (the requests'
      ``prefix``) run once; their key/values stay in a small LRU (``prefix_cache_mb``), so a
      prompt scored chunk by chunk computes them once for all chunks. Batches attend to the
      stored prefix without copying it per row where the model's attention allows (see
      :mod:`promptsearch.backends._hf_tensors`); position ids continue after the prefix, so the
      scores equal those computed without it.
    * On CPU in bfloat16 or float16, attention over short rows runs as grouped matmuls instead
      of PyTorch's flash attention (``fast_kernels``; see
      :mod:`promptsearch.backends._hf_kernels`).

    Args:
        batch_size: Most rows per forward call (``None``: as many as ``batch_tokens`` allows).
        prefix_caching: Compute shared prefixes once (default on).
        min_shared_tokens: Shortest shared prefix worth caching.
        batch_tokens: Padded tokens per forward call (``None``: 1024 on CPU, 8192 on GPU).
        prefix_cache_mb: Memory for stored prefix key/values, in MiB.
        fast_kernels: Use the faster CPU attention for short rows in half precision (default
            on; ``False`` runs the model's own attention).
    """

    kind: ClassVar[str] = "causal"

    def __init__(
        self,
        model: Any,
        *,
        batch_size: int | None = None,
        prefix_caching: bool = True,
        min_shared_tokens: int = 16,
        batch_tokens: int | None = None,
        prefix_cache_mb: float = 256,
        fast_kernels: bool = True,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        self.fast_kernels = fast_kernels
        self._max_rows = batch_size
        on_gpu = str(model.device).startswith("cuda")
        self.batch_tokens = batch_tokens or (8192 if on_gpu else 1024)
        self.prefix_caching = prefix_caching
        self.min_shared_tokens = min_shared_tokens
        self.prefixes = PrefixStore(int(prefix_cache_mb * 2**20))

    def attention_scope(self) -> contextlib.AbstractContextManager[None]:
        """The short-row attention when ``fast_kernels`` is on (see
        :func:`~promptsearch.backends._hf_kernels.short_attention`)."""
        return short_attention(self.model.model) if self.fast_kernels else contextlib.nullcontext()

    @property
    def batch_size(self) -> int:
        """Most rows per forward call (setting it caps the rows of every later batch)."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._batch_size = value
        self._max_rows = value

    @property
    def max_rows(self) -> int:
        """Rows per batch: ``batch_size`` when one was given, else only the token budget limits."""
        return self._max_rows or _MAX_ROWS

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        instances = requests
        if not instances:
            return []
        self.check_text(instances)
        tok = self.model.tokenizer
        start = start_tokens(tok)
        if not start:
            fallback = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
            start_if_empty = [] if fallback is None else [int(fallback)]
        else:
            start_if_empty = []
        encoded = encode_continuations(
            tok, [i.full_context for i in instances], [i.continuations for i in instances], start
        )
        encoded = [EncodedInstance(e.context or start_if_empty, e.continuations) for e in encoded]
        for e in encoded:
            if not e.context:
                raise ModelError(
                    "A prompt rendered to an empty context and the tokenizer has no BOS/EOS token."
                )
            if any(not c for c in e.continuations):
                raise ModelError("A label word tokenized to no tokens; use non-empty label words.")
        results: list[np.ndarray] = [np.zeros(0)] * len(encoded)
        tok_prefix = self.prefix_encoder(start)
        groups = prefix_groups(
            [i.prefix if self.prefix_caching else "" for i in instances],
            [e.context for e in encoded],
            tok_prefix,
            min_tokens=self.min_shared_tokens,
            is_stored=self.prefixes.__contains__,
        )
        for indices, prefix_ids in groups:
            prefix = self.shared_prefix(prefix_ids) if prefix_ids else None
            shared = len(prefix_ids)
            bodies = [EncodedInstance(encoded[i].context[shared:], encoded[i].continuations) for i in indices]
            for batch in token_batches([len(b.context) for b in bodies], self.max_rows, self.batch_tokens):
                scores = self._score_batch([bodies[j] for j in batch], prefix=prefix)
                for j, s in zip(batch, scores):
                    results[indices[j]] = s
                self.stats.instances += len(batch)
                if progress is not None:
                    progress(len(batch))
        return results

    def prefix_encoder(self, start: list[int]) -> Callable[[str], list[int]]:
        """Tokenizes a prefix text as it begins a context (``start`` tokens first)."""
        tok = self.model.tokenizer
        return lambda text: list(start) + list(tok(text, add_special_tokens=False)["input_ids"])

    def shared_prefix(self, ids: Sequence[int]) -> SharedPrefix:
        """Key/values of a prefix: from the store, or computed (batch of one) and stored."""
        found = self.prefixes.get(ids)
        if found is None:
            found = compute_prefix(self.model.model, ids)
            self.stats.model_calls += 1
            self.stats.tokens += len(ids)
            self.prefixes.put(found)
        return found

    def next_token_logprobs(
        self,
        contexts: Sequence[str],
        suffixes: Sequence[str] | None = None,
        *,
        top_k: int | None = None,
    ) -> TokenLogprobs:
        import torch

        tok = self.model.tokenizer
        start = start_tokens(tok)
        ids_list = [
            start + list(ids)
            for ids in tok([c.rstrip(" ") for c in contexts], add_special_tokens=False)["input_ids"]
        ]
        out = np.zeros((len(contexts), 0), dtype=np.float32)
        model = self.model.model
        device = next(model.parameters()).device
        for batch in token_batches([len(x) for x in ids_list], self.max_rows, self.batch_tokens):
            ids, mask = left_pad([ids_list[i] for i in batch], tok.pad_token_id or 0)
            with torch.inference_mode():
                logits = model(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0).to(device),
                    logits_to_keep=1,
                ).logits[:, -1, :]
            self.stats.model_calls += 1
            self.stats.tokens += int(mask.sum())
            logp = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
            if out.shape[1] == 0:
                out = np.zeros((len(contexts), logp.shape[1]), dtype=np.float32)
            out[batch] = logp
        return token_logprobs(self.vocabulary, out, top_k)

    def _score_batch(
        self, batch: Sequence[EncodedInstance], prefix: SharedPrefix | None = None
    ) -> list[np.ndarray]:
        import torch

        model = self.model.model
        device = next(model.parameters()).device
        ids, mask = left_pad([e.context for e in batch], self.model.tokenizer.pad_token_id or 0)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        multi = any(len(c) > 1 for e in batch for c in e.continuations)
        extra: dict[str, Any] = {}
        real_tokens = int(mask.sum())
        offset = 0
        scope = self.attention_scope()
        if prefix is not None:
            # Positions continue after the prefix. Broadcast: the batch attends to the stored
            # prefix (batch of one). Otherwise: [prefix][pads][body] in a per-row copy of the
            # prefix's cache, the pads masked out.
            position_ids = position_ids + prefix.length
            if broadcast_supported(model):
                scope, offset = attend_to_prefix(model, prefix), prefix.length
            else:
                extra[cache_argument(model)] = repeated_cache(prefix, len(batch))
                mask = torch.cat([torch.ones((len(batch), prefix.length), dtype=mask.dtype), mask], dim=1)
        with torch.inference_mode(), scope:
            out = model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=position_ids.to(device),
                use_cache=multi or bool(extra),
                logits_to_keep=1,
                **extra,
            )
            self.stats.model_calls += 1
            self.stats.tokens += real_tokens
            first = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1).cpu()
            scores = [
                np.array([float(first[r, c[0]]) for c in e.continuations], dtype=np.float64)
                for r, e in enumerate(batch)
            ]
            if multi:
                self._add_rest(batch, scores, output_cache(out), mask, device, offset)
        return scores

    def _add_rest(
        self,
        batch: Sequence[EncodedInstance],
        scores: list[np.ndarray],
        cache: Any,
        mask: Any,
        device: Any,
        offset: int,
    ) -> None:
        """Add log-probabilities of the 2nd..last tokens of multi-token continuations.

        ``cache`` holds the batch's contexts; ``offset`` counts prefix tokens outside it.
        """
        import torch

        rows = [(r, j) for r, e in enumerate(batch) for j, c in enumerate(e.continuations) if len(c) > 1]
        src = torch.tensor([r for r, _ in rows], dtype=torch.long)
        cache.reorder_cache(src.to(device))
        width = max(len(batch[r].continuations[j]) - 1 for r, j in rows)
        pad_id = self.model.tokenizer.pad_token_id or 0
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        cont_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, (r, j) in enumerate(rows):
            cont = batch[r].continuations[j][:-1]
            ids[k, : len(cont)] = torch.tensor(cont)
            cont_mask[k, : len(cont)] = 1
        ctx_mask = mask.index_select(0, src)
        full_mask = torch.cat([ctx_mask, cont_mask], dim=1)
        ctx_len = ctx_mask.sum(-1, keepdim=True) + offset
        position_ids = ctx_len + torch.arange(width).unsqueeze(0)
        model = self.model.model
        out = model(
            input_ids=ids.to(device),
            attention_mask=full_mask.to(device),
            position_ids=position_ids.to(device),
            use_cache=True,
            **{cache_argument(model): cache},
        )
        self.stats.model_calls += 1
        self.stats.tokens += int(cont_mask.sum())
        logp = torch.log_softmax(out.logits.float(), dim=-1).cpu()
        for k, (r, j) in enumerate(rows):
            rest = batch[r].continuations[j][1:]
            scores[r][j] += float(sum(logp[k, t, tok_id] for t, tok_id in enumerate(rest)))


def token_logprobs(vocabulary: tuple[str, ...], logp: np.ndarray, top_k: int | None) -> TokenLogprobs:
    """Wrap a ``(n, vocab)`` array; keep only each row's ``top_k`` when asked."""
    width = logp.shape[1] if logp.ndim == 2 else 0
    vocab = vocabulary[:width] + ("",) * max(0, width - len(vocabulary))
    if top_k is not None and 0 < top_k < width:
        cut = np.partition(logp, width - top_k, axis=1)[:, width - top_k][:, None]
        logp = np.where(logp >= cut, logp, -np.inf).astype(np.float32)
    return TokenLogprobs(vocab, logp)

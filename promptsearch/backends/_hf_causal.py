"""Batched log-likelihoods with causal language models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from promptsearch.backends._base import LoglikelihoodRequest, ProgressCallback, TokenLogprobs, length_batches
from promptsearch.backends._hf import HFBackend
from promptsearch.backends._hf_tensors import cache_argument, left_pad, output_cache
from promptsearch.backends._tokens import EncodedInstance, encode_continuations, start_tokens
from promptsearch.exceptions import ModelError

__all__ = ["HFCausalBackend", "token_logprobs"]


class HFCausalBackend(HFBackend):
    """Log-likelihoods of continuations with a causal LM.

    * Contexts are left-padded in length-sorted batches, with attention masks and position
      ids taken from the mask, so scores do not depend on batch-mates.
    * Only the logits of the last context position are computed (``logits_to_keep=1``):
      when every label word is one token, that single next-token distribution scores all
      labels, one forward pass per example.
    * Words of several tokens reuse the context's key/value cache: the cache is repeated
      for each such word and only the word's tokens are run again.
    * Shared-prefix caching: instances that share a prefix (instruction and demonstrations)
      have the tokens they share computed once per call; each batch starts from that key/value
      cache, laid out as ``[prefix][pads][body]`` with position ids from the mask, so the
      scores equal those computed without it.

    Args:
        prefix_caching: Compute shared prefixes once (default on).
        min_shared_tokens: Shortest shared prefix worth caching.
    """

    kind: ClassVar[str] = "causal"

    def __init__(
        self,
        model: Any,
        *,
        batch_size: int | None = None,
        prefix_caching: bool = True,
        min_shared_tokens: int = 16,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        self.prefix_caching = prefix_caching
        self.min_shared_tokens = min_shared_tokens

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
        for indices, shared in self._prefix_groups(instances, encoded):
            prefix = self._prefix_cache(encoded[indices[0]].context[:shared]) if shared else None
            bodies = [EncodedInstance(encoded[i].context[shared:], encoded[i].continuations) for i in indices]
            for batch in length_batches([len(b.context) for b in bodies], self.batch_size):
                scores = self._score_batch([bodies[j] for j in batch], prefix=prefix)
                for j, s in zip(batch, scores):
                    results[indices[j]] = s
                self.stats.instances += len(batch)
                if progress is not None:
                    progress(len(batch))
        return results

    def _prefix_groups(
        self, instances: Sequence[LoglikelihoodRequest], encoded: Sequence[EncodedInstance]
    ) -> list[tuple[list[int], int]]:
        """Group instances by prefix text; return (indices, shared token count) per group.

        The shared count is the longest common token prefix of the group's contexts (token
        level, so tokenization at the prefix boundary never matters), keeping at least one
        token of each context out of it. Groups not worth caching get 0.
        """
        groups: dict[str, list[int]] = {}
        for i, inst in enumerate(instances):
            groups.setdefault(inst.prefix if self.prefix_caching else "", []).append(i)
        out: list[tuple[list[int], int]] = []
        plain: list[int] = []
        for prefix, indices in groups.items():
            shared = 0
            if prefix and len(indices) > 1:
                first = encoded[indices[0]].context
                shared = min(len(encoded[i].context) for i in indices) - 1
                for i in indices[1:]:
                    other = encoded[i].context
                    n = 0
                    while n < shared and other[n] == first[n]:
                        n += 1
                    shared = n
            if shared >= self.min_shared_tokens:
                out.append((indices, shared))
            else:
                plain.extend(indices)
        if plain:
            out.append((sorted(plain), 0))
        return out

    def _prefix_cache(self, ids: Sequence[int]) -> Any:
        """Key/value cache of one shared prefix (batch of one)."""
        import torch

        model = self.model.model
        device = next(model.parameters()).device
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([list(ids)], device=device), use_cache=True, logits_to_keep=1)
        self.stats.model_calls += 1
        self.stats.tokens += len(ids)
        return (output_cache(out), len(ids))

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
        for batch in length_batches([len(x) for x in ids_list], self.batch_size):
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

    def _score_batch(self, batch: Sequence[EncodedInstance], prefix: Any = None) -> list[np.ndarray]:
        import copy

        import torch

        model = self.model.model
        device = next(model.parameters()).device
        ids, mask = left_pad([e.context for e in batch], self.model.tokenizer.pad_token_id or 0)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        multi = any(len(c) > 1 for e in batch for c in e.continuations)
        extra: dict[str, Any] = {}
        real_tokens = int(mask.sum())
        with torch.inference_mode():
            if prefix is not None:
                # [prefix][pads][body]: the pads sit between prefix and body, masked out; the
                # body's positions continue after the prefix's.
                cache, shared = prefix
                cache = copy.deepcopy(cache)
                cache.batch_repeat_interleave(len(batch))
                extra[cache_argument(model)] = cache
                mask = torch.cat([torch.ones((len(batch), shared), dtype=mask.dtype), mask], dim=1)
                position_ids = position_ids + shared
            out = model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=position_ids.to(device),
                use_cache=multi or prefix is not None,
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
                self._add_rest(batch, scores, output_cache(out), mask, device)
        return scores

    def _add_rest(
        self, batch: Sequence[EncodedInstance], scores: list[np.ndarray], cache: Any, mask: Any, device: Any
    ) -> None:
        """Add log-probabilities of the 2nd..last tokens of multi-token continuations."""
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
        ctx_len = ctx_mask.sum(-1, keepdim=True)
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

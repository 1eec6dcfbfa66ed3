"""Batched log-likelihood scoring with causal language models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from promptsearch.exceptions import ModelError
from promptsearch.scoring._base import BaseScorer, ProgressCallback, length_batches
from promptsearch.scoring._tokens import EncodedInstance, encode_continuations, start_tokens
from promptsearch.templates._prompt import PromptInstance

__all__ = ["CausalLMScorer"]


class CausalLMScorer(BaseScorer):
    """Scores continuations with a causal LM.

    * Contexts are left-padded in length-sorted batches, with attention masks and position
      ids taken from the mask, so scores do not depend on batch-mates.
    * Only the logits of the last context position are computed (``logits_to_keep=1``):
      when every label word is one token, that single next-token distribution scores all
      labels, one forward pass per example.
    * Words of several tokens reuse the context's key/value cache: the cache is repeated
      for each such word and only the word's tokens are run again.
    """

    def score_instances(
        self, instances: Sequence[PromptInstance], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        self.check_text(instances)
        tok = self.model.tokenizer
        start = start_tokens(tok)
        if not start:
            fallback = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
            start_if_empty = [] if fallback is None else [int(fallback)]
        else:
            start_if_empty = []
        encoded = encode_continuations(
            tok, [i.full_context for i in instances], [i.choices for i in instances], start
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
        lengths = [len(e.context) for e in encoded]
        for batch in length_batches(lengths, self.batch_size):
            scores = self._score_batch([encoded[i] for i in batch])
            for i, s in zip(batch, scores):
                results[i] = s
            self.stats.instances += len(batch)
            if progress is not None:
                progress(len(batch))
        return results

    def next_token_log_probs(
        self, contexts: Sequence[str], suffixes: Sequence[str] | None = None
    ) -> np.ndarray:
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
            ids, mask = _left_pad([ids_list[i] for i in batch], tok.pad_token_id or 0)
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
        return out

    def _score_batch(self, batch: Sequence[EncodedInstance]) -> list[np.ndarray]:
        import torch

        model = self.model.model
        device = next(model.parameters()).device
        ids, mask = _left_pad([e.context for e in batch], self.model.tokenizer.pad_token_id or 0)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        multi = any(len(c) > 1 for e in batch for c in e.continuations)
        with torch.inference_mode():
            out = model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=position_ids.to(device),
                use_cache=multi,
                logits_to_keep=1,
            )
            self.stats.model_calls += 1
            self.stats.tokens += int(mask.sum())
            first = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1).cpu()
            scores = [
                np.array([float(first[r, c[0]]) for c in e.continuations], dtype=np.float64)
                for r, e in enumerate(batch)
            ]
            if multi:
                cache = getattr(out, "cache", None)
                cache = out.past_key_values if cache is None else cache
                self._add_rest(batch, scores, cache, mask, device)
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
            **{_cache_argument(model): cache},
        )
        self.stats.model_calls += 1
        self.stats.tokens += int(cont_mask.sum())
        logp = torch.log_softmax(out.logits.float(), dim=-1).cpu()
        for k, (r, j) in enumerate(rows):
            rest = batch[r].continuations[j][1:]
            scores[r][j] += float(sum(logp[k, t, tok_id] for t, tok_id in enumerate(rest)))


def _cache_argument(model: Any) -> str:
    """Name of the forward argument taking a KV cache (``cache`` in transformers >= 5.x)."""
    import inspect

    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
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

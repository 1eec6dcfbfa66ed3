"""Cloze log-likelihoods with masked language models (one mask per continuation token)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from promptsearch.backends._base import (
    Capabilities,
    GenerationRequest,
    GenerationSettings,
    LoglikelihoodRequest,
    ProgressCallback,
    TokenLogprobs,
    length_batches,
)
from promptsearch.backends._hf import HFBackend
from promptsearch.backends._hf_causal import token_logprobs
from promptsearch.backends._tokens import special_wrapping
from promptsearch.exceptions import ModelError

__all__ = ["HFMaskedBackend"]


class HFMaskedBackend(HFBackend):
    """Scores label words as cloze fills: ``context [MASK]*n suffix``.

    A word of ``n`` tokens is scored with ``n`` masks as the sum of each token's
    log-probability at its mask (PET / LM-BFF style, all masks predicted at once). Words of
    the same token length share one forward pass per example. Masked LMs do not generate.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(generate=False, trainable=True)
    kind: ClassVar[str] = "masked"

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        settings: GenerationSettings,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        raise ModelError(
            f"{self.name!r} is a masked LM: it scores choices but cannot generate text; use a causal or "
            "seq2seq model for generation tasks."
        )

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        instances = requests
        if not instances:
            return []
        self.check_text(instances)
        tok = self.model.tokenizer
        if tok.mask_token_id is None:
            raise ModelError(f"Model {self.model.name!r} has no mask token; it cannot score cloze prompts.")
        head, tail = special_wrapping(tok)
        rows: list[tuple[int, list[int], list[int], list[tuple[int, list[int]]]]] = []
        for n, inst in enumerate(instances):
            ctx = tok(inst.full_context.rstrip(" "), add_special_tokens=False)["input_ids"]
            suffix = tok(inst.suffix, add_special_tokens=False)["input_ids"] if inst.suffix else []
            by_len: dict[int, list[tuple[int, list[int]]]] = {}
            for j, choice in enumerate(inst.continuations):
                word = tok(choice if choice.startswith(" ") else " " + choice, add_special_tokens=False)[
                    "input_ids"
                ]
                if not word:
                    raise ModelError(f"Label word {choice!r} tokenized to no tokens; use another word.")
                by_len.setdefault(len(word), []).append((j, list(word)))
            for length in sorted(by_len):
                seq = [*head, *ctx, *[tok.mask_token_id] * length, *suffix, *tail]
                rows.append((n, seq, [len(head) + len(ctx), length], by_len[length]))
        results = [np.zeros(len(inst.continuations)) for inst in instances]
        for batch in length_batches([len(r[1]) for r in rows], self.batch_size):
            self._score_batch([rows[i] for i in batch], results)
        self.stats.instances += len(instances)
        if progress is not None:
            progress(len(instances))
        return results

    def next_token_logprobs(
        self,
        contexts: Sequence[str],
        suffixes: Sequence[str] | None = None,
        *,
        top_k: int | None = None,
    ) -> TokenLogprobs:
        """Log-distribution at one mask placed between each context and its suffix."""
        import torch

        tok = self.model.tokenizer
        head, tail = special_wrapping(tok)
        rows: list[tuple[int, list[int], list[int], list[tuple[int, list[int]]]]] = []
        for n, ctx in enumerate(contexts):
            ids = tok(ctx.rstrip(" "), add_special_tokens=False)["input_ids"]
            suffix = suffixes[n] if suffixes is not None else ""
            sids = tok(suffix, add_special_tokens=False)["input_ids"] if suffix else []
            rows.append((n, [*head, *ids, tok.mask_token_id, *sids, *tail], [len(head) + len(ids), 1], []))
        out = np.zeros((len(contexts), 0), dtype=np.float32)
        model = self.model.model
        device = next(model.parameters()).device
        pad_id = tok.pad_token_id or 0
        for batch in length_batches([len(r[1]) for r in rows], self.batch_size):
            width = max(len(rows[i][1]) for i in batch)
            ids_t = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for k, i in enumerate(batch):
                ids_t[k, : len(rows[i][1])] = torch.tensor(rows[i][1])
                mask[k, : len(rows[i][1])] = 1
            with torch.inference_mode():
                logits = model(input_ids=ids_t.to(device), attention_mask=mask.to(device)).logits
            self.stats.model_calls += 1
            positions = torch.tensor([rows[i][2][0] for i in batch], device=logits.device)
            picked = logits[torch.arange(len(batch), device=logits.device), positions]
            logp = torch.log_softmax(picked.float(), dim=-1).cpu().numpy()
            if out.shape[1] == 0:
                out = np.zeros((len(contexts), logp.shape[1]), dtype=np.float32)
            out[batch] = logp
        return token_logprobs(self.vocabulary, out, top_k)

    def _score_batch(
        self,
        batch: Sequence[tuple[int, list[int], list[int], list[tuple[int, list[int]]]]],
        results: list[np.ndarray],
    ) -> None:
        import torch

        model = self.model.model
        device = next(model.parameters()).device
        pad_id = self.model.tokenizer.pad_token_id or 0
        width = max(len(r[1]) for r in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for k, (_, seq, _, _) in enumerate(batch):
            ids[k, : len(seq)] = torch.tensor(seq)
            mask[k, : len(seq)] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        self.stats.model_calls += 1
        self.stats.tokens += int(mask.sum())
        for k, (n, _, (start, length), words) in enumerate(batch):
            logp = torch.log_softmax(logits[k, start : start + length].float(), dim=-1).cpu()
            for j, word in words:
                results[n][j] = float(sum(logp[t, w] for t, w in enumerate(word)))

"""Log-likelihoods of continuations as decoder targets of encoder-decoder models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from promptsearch.backends._base import Capabilities, LoglikelihoodRequest, ProgressCallback, length_batches
from promptsearch.backends._hf import HFBackend
from promptsearch.exceptions import ModelError

__all__ = ["HFSeq2SeqBackend"]


class HFSeq2SeqBackend(HFBackend):
    """Scores ``log p(word | prompt)`` with an encoder-decoder model.

    The encoder reads the prompt with the label slot removed (``context + suffix``) once per
    example; its states are repeated for each label word and the decoder scores the word's
    tokens (no end-of-sequence token). Next-token distributions are not offered.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(next_token_logprobs=False, trainable=False)
    kind: ClassVar[str] = "seq2seq"

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        instances = requests
        if not instances:
            return []
        self.check_text(instances)
        tok = self.model.tokenizer
        sources = [(inst.full_context.rstrip(" ") + " " + inst.suffix.lstrip()).strip() for inst in instances]
        enc = tok(sources, add_special_tokens=True)["input_ids"]
        targets = [
            [list(tok(c.strip(), add_special_tokens=False)["input_ids"]) for c in inst.continuations]
            for inst in instances
        ]
        if any(not t for ts in targets for t in ts):
            raise ModelError("A label word tokenized to no tokens; use non-empty label words.")
        results: list[np.ndarray] = [np.zeros(0)] * len(instances)
        for batch in length_batches([len(e) for e in enc], self.batch_size):
            scores = self._score_batch([enc[i] for i in batch], [targets[i] for i in batch])
            for i, s in zip(batch, scores):
                results[i] = s
            self.stats.instances += len(batch)
            if progress is not None:
                progress(len(batch))
        return results

    def _score_batch(self, sources: list[list[int]], targets: list[list[list[int]]]) -> list[np.ndarray]:
        import torch
        from transformers.modeling_outputs import BaseModelOutput

        model = self.model.model
        device = next(model.parameters()).device
        pad_id = self.model.tokenizer.pad_token_id or 0
        start_id = model.config.decoder_start_token_id
        start_id = pad_id if start_id is None else start_id
        width = max(len(s) for s in sources)
        ids = torch.full((len(sources), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(sources), width), dtype=torch.long)
        for r, s in enumerate(sources):
            ids[r, : len(s)] = torch.tensor(s)
            mask[r, : len(s)] = 1
        rows = [(r, j) for r, ts in enumerate(targets) for j in range(len(ts))]
        src = torch.tensor([r for r, _ in rows], dtype=torch.long, device=device)
        tw = max(len(targets[r][j]) for r, j in rows)
        dec = torch.full((len(rows), tw), pad_id, dtype=torch.long)
        for k, (r, j) in enumerate(rows):
            t = targets[r][j]
            dec[k, : len(t)] = torch.tensor([start_id, *t[:-1]])
        with torch.inference_mode():
            hidden = model.get_encoder()(
                input_ids=ids.to(device), attention_mask=mask.to(device)
            ).last_hidden_state
            out = model(
                encoder_outputs=BaseModelOutput(last_hidden_state=hidden.index_select(0, src)),
                attention_mask=mask.to(device).index_select(0, src),
                decoder_input_ids=dec.to(device),
            )
        self.stats.model_calls += 2
        self.stats.tokens += int(mask.sum()) + sum(len(targets[r][j]) for r, j in rows)
        logp = torch.log_softmax(out.logits.float(), dim=-1).cpu()
        scores = [np.zeros(len(ts)) for ts in targets]
        for k, (r, j) in enumerate(rows):
            scores[r][j] = float(sum(logp[k, t, w] for t, w in enumerate(targets[r][j])))
        return scores

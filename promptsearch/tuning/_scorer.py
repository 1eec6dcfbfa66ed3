"""A scorer whose prompt contains trainable soft-token embeddings."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from promptsearch.backends import (
    Capabilities,
    GenerationRequest,
    GenerationSettings,
    LoglikelihoodRequest,
    ProgressCallback,
    length_batches,
)
from promptsearch.backends._hf import HFBackend
from promptsearch.exceptions import ConfigError, ModelError
from promptsearch.templates._prompt import PromptInstance
from promptsearch.tuning._rows import Row, context_ids, embed_ids, encode_causal, encode_masked, forward_rows

if TYPE_CHECKING:
    import torch

    from promptsearch.models import LoadedModel

__all__ = ["SoftPromptScorer"]


class SoftPromptScorer(HFBackend):
    """A backend that scores prompts whose input holds soft tokens (causal and masked LMs).

    With ``placement="prefix"`` the ``n`` embeddings go before the whole input (as PEFT prompt
    tuning does), and the prompt must have no ``{soft:N}`` slot; with ``placement="slot"``
    each run of :data:`~promptsearch.templates.SOFT_MARKER` in the rendered text (a
    ``{soft:N}`` slot) takes the next embeddings in order, and the slots must add up to ``n``.

    Causal rows are left-padded as ``[pads][soft][text]`` with position ids counted from the
    first real token, so scores do not depend on the batch size or on batch-mates. A choice
    of several tokens is scored by running context + choice as one row (no KV cache).
    With zero soft tokens this scores exactly like the ``hf`` backend.

    Causal LMs also generate (:meth:`generate`): the ``hf`` backend's batched generation runs
    with the soft tokens in the prompt, fed as input embeddings.

    Args:
        model: The base model (its weights are never changed by this class).
        embeddings: ``[n, hidden]`` soft embeddings (a tensor or ``torch.nn.Parameter``; kept
            by reference, so a training loop's updates are seen).
        placement: ``"prefix"`` or ``"slot"``.
        batch_size: Rows per forward pass.

    Example:
        >>> scorer = SoftPromptScorer(lm, torch.zeros(4, hidden))  # doctest: +SKIP
        >>> scorer.loglikelihood(prompt.instances(examples))  # doctest: +SKIP
    """

    capabilities: ClassVar[Capabilities] = Capabilities(generate=True, next_token_logprobs=False)

    def __init__(
        self,
        model: LoadedModel,
        embeddings: torch.Tensor,
        *,
        placement: str = "prefix",
        batch_size: int | None = None,
    ) -> None:
        kind = str(getattr(model.kind, "value", model.kind))
        if kind not in ("causal", "masked"):
            raise ModelError(
                f"Soft prompts need a causal or masked LM; {model.name!r} is {kind}. Use a causal model "
                "such as 'smollm2-135m-instruct'."
            )
        if placement not in ("prefix", "slot"):
            raise ConfigError(f"placement {placement!r} is not 'prefix' or 'slot'.")
        hidden = model.model.get_input_embeddings().weight.shape[-1]
        if embeddings.dim() != 2 or embeddings.shape[1] != hidden:
            raise ModelError(
                f"Soft embeddings of shape {tuple(embeddings.shape)} do not fit {model.name!r}, whose "
                f"embeddings have {hidden} dimensions; train or load them for this model."
            )
        self._base = model
        self._named: tuple[tuple[object, ...], LoadedModel] | None = None
        super().__init__(model, batch_size=batch_size)
        self.embeddings = embeddings
        self.placement = placement
        self.causal = kind == "causal"

    # ``model`` carries a content hash of the embeddings in its name, so that score caches keyed
    # by ``scorer.model.model_id`` never mix soft prompts (read at access time: it follows training).
    # It is kept until the embeddings change (a new tensor, or an in-place update: its version),
    # as generation reads ``model`` at every step.
    @property
    def model(self) -> LoadedModel:
        e = self.embeddings
        key = (id(e), e.data_ptr(), e._version, id(self._base), self.placement)
        if self._named is None or self._named[0] != key:
            digest = hashlib.sha256(e.detach().float().cpu().numpy().tobytes()).hexdigest()[:12]
            name = f"{self._base.name}+soft-{self.placement}-{digest}"
            self._named = (key, dataclasses.replace(self._base, name=name))
        return self._named[1]

    @model.setter
    def model(self, value: LoadedModel) -> None:
        self._base = value

    @property
    def base_model(self) -> LoadedModel:
        """The model under the soft prompt, with its own name."""
        return self._base

    @property
    def n_tokens(self) -> int:
        """Number of soft tokens."""
        return int(self.embeddings.shape[0])

    @property
    def max_length(self) -> int:
        """The model's context minus the soft tokens."""
        return int(self._base.max_length) - self.n_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._base.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        settings: GenerationSettings,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        """Generate after each prompt with the soft tokens in it (causal LMs).

        The ``hf`` backend's batched generation runs with this backend's rows (soft tokens
        as placeholders, see :meth:`generation_rows`) and embeddings (:meth:`embed_rows`):
        left padding, position ids from the mask, so texts do not depend on the batch size.
        """
        if not self.causal:
            raise ModelError(
                f"{self._base.name!r} is a masked LM, which cannot generate; generation with soft prompts "
                "needs a causal LM."
            )
        from promptsearch.backends._hf_generate import generate

        return generate(self, requests, settings, progress)

    def generation_rows(
        self, requests: Sequence[GenerationRequest], settings: GenerationSettings
    ) -> list[list[int]]:
        """Token ids of each prompt to generate after (soft token ``k`` as ``-1 - k``).

        Encoded as in training (:func:`~promptsearch.tuning._rows.context_ids`); a prompt too long
        for ``max_new_tokens`` more tokens loses its first text tokens (prefix soft tokens stay).
        """
        tok = self._base.tokenizer
        budget = int(self._base.max_length) - settings.max_new_tokens
        rows = []
        for r in requests:
            row = context_ids(tok, r.full_context, self.n_tokens, self.placement)
            if len(row) > budget:
                self.warn_truncation_once(f"a generation prompt of {len(row)} tokens ({r.context[:40]!r}...)")
                keep = self.n_tokens if self.placement == "prefix" else 0
                row = row[:keep] + row[len(row) - max(1, budget - keep) :]
            rows.append(row)
        return rows

    def embed_rows(self, ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings of padded rows from :meth:`generation_rows` (the generation hook)."""
        return embed_ids(self._base.model, ids, self.embeddings.detach())

    def encode(self, instances: Sequence[LoglikelihoodRequest | PromptInstance]) -> list[Row]:
        """Token rows of ``instances`` (placeholders for soft tokens), for :meth:`forward`."""
        encode = encode_causal if self.causal else encode_masked
        return encode(self._base.tokenizer, instances, self.n_tokens, self.placement)

    def choice_scores(
        self, rows: Sequence[Row], n_instances: int, n_choices: int, soft: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Summed log-probabilities ``[n_instances, n_choices]`` of every choice (differentiable).

        Args:
            rows: Rows from :meth:`encode`.
            n_instances: Number of instances the rows came from.
            n_choices: Most choices of any instance (missing ones stay 0).
            soft: Overrides the embeddings: ``[n, hidden]``, or ``[n_instances, n, hidden]`` for
                one soft prompt per instance (a CMA-ES population scored in one batch).
        """
        import torch

        soft = self.embeddings if soft is None else soft
        pad_id = self._base.tokenizer.pad_token_id or 0
        pieces: list[torch.Tensor] = []
        flat: list[torch.Tensor] = []
        for batch in length_batches([len(r.ids) for r in rows], self.batch_size):
            owners = [rows[i].targets[0][0] for i in batch]
            batch_soft = soft if soft.dim() == 2 else soft[torch.tensor(owners, device=soft.device)]
            inst, choice, values = forward_rows(
                self._base.model, [rows[i] for i in batch], batch_soft, pad_id, causal=self.causal
            )
            self.stats.model_calls += 1
            self.stats.tokens += sum(len(rows[i].ids) for i in batch)
            flat.append((inst * n_choices + choice).to(values.device))
            pieces.append(values)
        values = torch.cat(pieces)
        out = torch.zeros(n_instances * n_choices, dtype=values.dtype, device=values.device)
        return out.index_add(0, torch.cat(flat), values).view(n_instances, n_choices)

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        import torch

        instances = requests
        if not instances:
            return []
        n_choices = max(len(i.continuations) for i in instances)
        with torch.inference_mode():
            scores = (
                self.choice_scores(self.encode(instances), len(instances), n_choices).double().cpu().numpy()
            )
        self.stats.instances += len(instances)
        if progress is not None:
            progress(len(instances))
        return [scores[k, : len(inst.continuations)].copy() for k, inst in enumerate(instances)]

    def label_log_probs(
        self,
        instances: Sequence[PromptInstance],
        n_labels: int,
        soft: torch.Tensor | None = None,
        rows: Sequence[Row] | None = None,
    ) -> torch.Tensor:
        """Label scores ``[len(instances), n_labels]``: log-sum-exp over each label's words.

        Differentiable: gradients reach the soft embeddings (and the model's weights only
        if they require gradients). ``soft`` as in :meth:`choice_scores`; ``rows`` are
        ``encode(instances)`` when already at hand.
        """
        import torch

        rows = self.encode(instances) if rows is None else rows
        n_choices = max(len(i.choices) for i in instances)
        scores = self.choice_scores(rows, len(instances), n_choices, soft)
        masks = torch.zeros((len(instances), n_labels, n_choices), dtype=torch.bool)
        for k, inst in enumerate(instances):
            for j, lab in enumerate(inst.choice_labels):
                masks[k, lab, j] = True
        if not bool(masks.any(-1).all()):
            raise ConfigError("Some label has no word in some instance; give every label at least one word.")
        masked = torch.where(
            masks.to(scores.device), scores[:, None, :], torch.full_like(scores[:, None, :], -torch.inf)
        )
        return torch.logsumexp(masked, dim=-1)

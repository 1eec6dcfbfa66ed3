"""Token rows with soft-token placeholders, and their batched, differentiable forward pass.

A row is a list of token ids where a negative id ``-1 - k`` stands for soft token ``k``.
Each row carries targets: which logits predict which tokens of which choice. Causal rows
are LEFT-padded as ``[pads][soft][text]`` with ``position_ids = cumsum(mask) - 1`` (the fix
for PEFT's ``[virtual][pads][text]``), so a row's scores do not depend on its batch-mates.
Masked-LM rows are right-padded and use the model's default positions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptsearch.backends import LoglikelihoodRequest
from promptsearch.backends._tokens import encode_continuations, special_wrapping, start_tokens
from promptsearch.exceptions import ModelError, TemplateError
from promptsearch.templates._prompt import PromptInstance
from promptsearch.templates._template import SOFT_MARKER

if TYPE_CHECKING:
    import torch

__all__ = ["Row", "context_ids", "embed_ids", "encode_causal", "encode_masked", "forward_rows", "soft_ids"]

_RUNS = re.compile(f"({SOFT_MARKER}+)")


@dataclass(frozen=True)
class Row:
    """One sequence to run and what to read from it.

    Attributes:
        ids: Token ids; ``-1 - k`` is soft token ``k``.
        targets: ``(instance, choice, positions, tokens)``: the logits at ``positions``
            predict ``tokens``; their log-probabilities add up to the choice's score.
    """

    ids: tuple[int, ...]
    targets: tuple[tuple[int, int, tuple[int, ...], tuple[int, ...]], ...]


def soft_ids(start: int, count: int) -> list[int]:
    """Placeholders ``-1 - k`` of soft tokens ``start .. start + count - 1``."""
    return [-1 - k for k in range(start, start + count)]


def _pieces(tokenizer: Any, text: str, n_soft: int, placement: str, where: str) -> tuple[list[int], str, int]:
    """Tokenize ``text`` up to its last soft run; return ``(ids, rest after it, soft used)``."""
    if placement == "prefix":
        if SOFT_MARKER in text:
            raise TemplateError(
                f"The {where} has {{soft:N}} slots but the placement is 'prefix'; use placement='slot' "
                "or remove the slots from the template."
            )
        return [], text, 0
    parts = _RUNS.split(text)
    ids: list[int] = []
    used = 0
    for part in parts[:-1]:
        if part.startswith(SOFT_MARKER):
            ids += soft_ids(used, len(part))
            used += len(part)
        elif part:
            ids += list(tokenizer(part, add_special_tokens=False)["input_ids"])
    return ids, parts[-1], used


def _check_count(used: int, n_soft: int, placement: str) -> None:
    if placement == "slot" and used != n_soft:
        raise TemplateError(
            f"The prompt has {used} soft slot token(s) ({{soft:N}}) but the soft prompt has {n_soft} "
            f"embeddings; make the template's {{soft:N}} slots add up to {n_soft}."
        )


def encode_causal(
    tokenizer: Any, instances: Sequence[LoglikelihoodRequest | PromptInstance], n_soft: int, placement: str
) -> list[Row]:
    """Rows of causal-LM instances: one for the single-token choices, one per longer choice.

    Text is tokenized as the ``hf`` backend's causal LMs do: start tokens
    (BOS), then the text; trailing spaces move into the continuations, and continuation
    tokens come from the joint tokenization of the last text piece and the continuation.
    With placement ``"prefix"`` the soft tokens go before everything (as PEFT does).
    """
    start = start_tokens(tokenizer)
    fallback = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    rows: list[Row] = []
    for n, inst in enumerate(instances):
        head, rest, used = _pieces(tokenizer, inst.full_context, n_soft, placement, "context")
        _check_count(used, n_soft, placement)
        enc = encode_continuations(tokenizer, [rest], [inst.continuations], [])[0]
        ids = soft_ids(0, n_soft) if placement == "prefix" else []
        ids += list(start) + head + enc.context
        if not ids:
            if fallback is None:
                raise ModelError(
                    "A prompt rendered to an empty context and the tokenizer has no BOS/EOS token."
                )
            ids = [int(fallback)]
        single: list[tuple[int, int, tuple[int, ...], tuple[int, ...]]] = []
        last = len(ids) - 1
        for j, cont in enumerate(enc.continuations):
            if not cont:
                raise ModelError("A label word tokenized to no tokens; use non-empty label words.")
            if len(cont) == 1:
                single.append((n, j, (last,), (cont[0],)))
            else:
                positions = tuple(range(last, last + len(cont)))
                rows.append(Row(tuple(ids + cont[:-1]), ((n, j, positions, tuple(cont)),)))
        if single:
            rows.append(Row(tuple(ids), tuple(single)))
    return rows


def encode_masked(
    tokenizer: Any, instances: Sequence[LoglikelihoodRequest | PromptInstance], n_soft: int, placement: str
) -> list[Row]:
    """Cloze rows of masked-LM instances, ``[soft][CLS] context [MASK]*k suffix [SEP]``.

    Choices of the same token length share one row, as in
    the ``hf`` backend's masked LMs.
    """
    if tokenizer.mask_token_id is None:
        raise ModelError("The model has no mask token; it cannot score cloze prompts.")
    head_special, tail_special = special_wrapping(tokenizer)
    rows: list[Row] = []
    for n, inst in enumerate(instances):
        ctx_head, ctx_rest, used = _pieces(
            tokenizer, inst.full_context.rstrip(" "), n_soft, placement, "context"
        )
        suffix_head, suffix_rest, used_suffix = _pieces(tokenizer, inst.suffix, n_soft, placement, "suffix")
        suffix_head = [i - used if i < 0 else i for i in suffix_head]  # continue the soft numbering
        _check_count(used + used_suffix, n_soft, placement)
        ctx = (
            ctx_head + list(tokenizer(ctx_rest, add_special_tokens=False)["input_ids"])
            if ctx_rest
            else ctx_head
        )
        suffix = suffix_head + (
            list(tokenizer(suffix_rest, add_special_tokens=False)["input_ids"]) if suffix_rest else []
        )
        prefix = soft_ids(0, n_soft) if placement == "prefix" else []
        by_len: dict[int, list[tuple[int, list[int]]]] = {}
        for j, choice in enumerate(inst.continuations):
            word = list(
                tokenizer(choice if choice.startswith(" ") else " " + choice, add_special_tokens=False)[
                    "input_ids"
                ]
            )
            if not word:
                raise ModelError(f"Label word {choice!r} tokenized to no tokens; use another word.")
            by_len.setdefault(len(word), []).append((j, word))
        for length, words in sorted(by_len.items()):
            before = [*prefix, *head_special, *ctx]
            ids = [*before, *[tokenizer.mask_token_id] * length, *suffix, *tail_special]
            positions = tuple(range(len(before), len(before) + length))
            rows.append(Row(tuple(ids), tuple((n, j, positions, tuple(w)) for j, w in words)))
    return rows


def forward_rows(
    model: Any, rows: Sequence[Row], soft: torch.Tensor, pad_id: int, *, causal: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run ``rows`` in one batch; return ``(instance, choice, log-prob)`` per target.

    Args:
        model: A ``transformers`` model accepting ``inputs_embeds``.
        rows: The rows of this batch.
        soft: Soft embeddings, ``[n, hidden]`` shared by all rows or ``[len(rows), n, hidden]``
            (one soft prompt per row, as when scoring a CMA-ES population). Gradients flow
            into it unless called under ``torch.no_grad`` / ``torch.inference_mode``.
        pad_id: Token id used for padding (masked out).
        causal: Left padding with position ids from the mask (causal LMs), else right padding.
    """
    import torch

    device = model.get_input_embeddings().weight.device
    soft = soft.to(device)
    width = max(len(r.ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    offsets = []
    for k, r in enumerate(rows):
        off = width - len(r.ids) if causal else 0
        ids[k, off : off + len(r.ids)] = torch.tensor(r.ids, dtype=torch.long)
        mask[k, off : off + len(r.ids)] = 1
        offsets.append(off)
    ids, mask = ids.to(device), mask.to(device)
    inputs = embed_ids(model, ids, soft)
    kwargs: dict[str, Any] = {"inputs_embeds": inputs, "attention_mask": mask}
    keep = width
    if causal:
        keep = max(len(r.ids) - min(p for t in r.targets for p in t[2]) for r in rows)
        kwargs.update(position_ids=(mask.cumsum(-1) - 1).clamp(min=0), use_cache=False, logits_to_keep=keep)
    logits = model(**kwargs).logits
    logp = torch.log_softmax(logits[:, -keep:].float(), dim=-1)
    row_idx, cols, toks, inst, choice, group = [], [], [], [], [], []
    n_targets = 0
    for k, r in enumerate(rows):
        for n, j, positions, tokens in r.targets:
            for p, t in zip(positions, tokens):
                row_idx.append(k)
                cols.append(offsets[k] + p - (width - keep))
                toks.append(t)
                group.append(n_targets)
            inst.append(n)
            choice.append(j)
            n_targets += 1
    dev = logp.device
    values = logp[
        torch.tensor(row_idx, device=dev), torch.tensor(cols, device=dev), torch.tensor(toks, device=dev)
    ]
    sums = torch.zeros(n_targets, dtype=values.dtype, device=dev).index_add(
        0, torch.tensor(group, device=dev), values
    )
    return torch.tensor(inst), torch.tensor(choice), sums


def embed_ids(model: Any, ids: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Input embeddings of token rows ``ids`` ``[batch, width]`` whose ids ``-1 - k`` are soft token ``k``.

    ``soft`` is ``[n, hidden]`` (shared by every row) or ``[batch, n, hidden]`` (one soft prompt
    per row); it is cast to the embeddings' dtype, and gradients flow into it.
    """
    import torch

    inputs: torch.Tensor = model.get_input_embeddings()(ids.clamp(min=0))
    is_soft = ids < 0
    if not bool(is_soft.any()):
        return inputs
    if soft.shape[-2] == 0:
        raise ModelError("The rows hold soft-token placeholders but the soft prompt has no embeddings.")
    index = (-ids - 1).clamp(min=0, max=soft.shape[-2] - 1)
    soft = soft.to(inputs.device)
    picked = (
        soft[index] if soft.dim() == 2 else soft[torch.arange(len(ids), device=ids.device)[:, None], index]
    )
    return torch.where(is_soft[..., None], picked.to(inputs.dtype), inputs)


def context_ids(tokenizer: Any, text: str, n_soft: int, placement: str) -> list[int]:
    """Token ids of a generation prompt, as the ``hf`` backend encodes it, with soft placeholders.

    The tokenizer's start tokens (BOS) come first unless ``text`` already begins with them (as
    :func:`promptsearch.backends._hf_generate.prompt_ids` does); with placement ``"prefix"`` the
    ``n_soft`` soft tokens go before everything, with ``"slot"`` each ``{soft:N}`` run of the
    text takes the next ones. With ``n_soft=0`` these are exactly the ids the ``hf`` backend
    generates after, so what is trained is what is generated from.
    """
    head, rest, used = _pieces(tokenizer, text, n_soft, placement, "prompt")
    _check_count(used, n_soft, placement)
    bos_text = tokenizer.bos_token or ""
    own_start = bool(bos_text) and text.startswith(bos_text)
    ids = [] if own_start else list(start_tokens(tokenizer))
    ids += head + (list(tokenizer(rest, add_special_tokens=False)["input_ids"]) if rest else [])
    if not ids:
        fallback = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if fallback is None:
            raise ModelError("A prompt rendered to an empty text and the tokenizer has no BOS/EOS token.")
        ids = [int(fallback)]
    return (soft_ids(0, n_soft) if placement == "prefix" else []) + ids

"""Tokenization shared by the scorers: contexts and their continuations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["EncodedInstance", "encode_continuations", "special_wrapping", "start_tokens"]


@dataclass(frozen=True)
class EncodedInstance:
    """Token ids of one context and of each of its continuations."""

    context: list[int]
    continuations: list[list[int]]


def special_wrapping(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Special tokens the tokenizer puts before and after a text by default, found by probing.

    For BERT this is ``([CLS], [SEP])``, for Llama ``([BOS], [])``, for GPT-2 ``([], [])``.
    """
    with_special = list(tokenizer("a", add_special_tokens=True)["input_ids"])
    plain = list(tokenizer("a", add_special_tokens=False)["input_ids"])
    for start in range(len(with_special) - len(plain) + 1):
        if with_special[start : start + len(plain)] == plain:
            return with_special[:start], with_special[start + len(plain) :]
    return [], []


def start_tokens(tokenizer: Any) -> list[int]:
    """Tokens the tokenizer puts before text by default (e.g. BOS)."""
    return special_wrapping(tokenizer)[0]


def encode_continuations(
    tokenizer: Any, contexts: Sequence[str], choices: Sequence[Sequence[str]], start: Sequence[int]
) -> list[EncodedInstance]:
    """Tokenize each context and its continuations as lm-evaluation-harness does.

    Trailing spaces of the context move to the front of each continuation, and each
    continuation's tokens are read from the joint tokenization of context + continuation,
    so that word boundaries are tokenized exactly as in running text. Where the joint
    tokenization does not extend the context's own (rare), the continuation is tokenized
    on its own.
    """
    ctx_texts: list[str] = []
    moved_spaces: list[str] = []
    whole_texts: list[str] = []
    for ctx, conts in zip(contexts, choices):
        stripped = ctx.rstrip(" ")
        moved = ctx[len(stripped) :]
        ctx_texts.append(stripped)
        moved_spaces.append(moved)
        whole_texts.extend(stripped + moved + c for c in conts)
    ctx_ids = tokenizer(ctx_texts, add_special_tokens=False)["input_ids"]
    whole_ids = tokenizer(whole_texts, add_special_tokens=False)["input_ids"] if whole_texts else []
    out: list[EncodedInstance] = []
    k = 0
    for moved, cid, conts in zip(moved_spaces, ctx_ids, choices):
        cont_ids: list[list[int]] = []
        for cont in conts:
            whole = whole_ids[k]
            k += 1
            if whole[: len(cid)] == cid and len(whole) > len(cid):
                cont_ids.append(list(whole[len(cid) :]))
            else:
                cont_ids.append(list(tokenizer(moved + cont, add_special_tokens=False)["input_ids"]))
        out.append(EncodedInstance(list(start) + list(cid), cont_ids))
    return out

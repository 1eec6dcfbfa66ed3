"""Tokenization shared by the scorers: contexts and their continuations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EncodedInstance",
    "common_prefix_length",
    "encode_continuations",
    "prefix_groups",
    "special_wrapping",
    "start_tokens",
]


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


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` share.

    >>> common_prefix_length([1, 2, 3], [1, 2, 4, 5])
    2
    """
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


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


def prefix_groups(
    prefixes: Sequence[str],
    contexts: Sequence[Sequence[int]],
    encode_prefix: Callable[[str], list[int]],
    *,
    min_tokens: int,
    is_stored: Callable[[list[int]], bool],
) -> list[tuple[list[int], list[int]]]:
    """Group requests by prefix text; return (indices, shared prefix token ids) per group.

    ``contexts`` are the requests' whole token ids (prefix included). The shared ids are the
    prefix's own tokens (``encode_prefix``, start tokens included), cut where some context of
    the group tokenizes differently (token level, so the prefix boundary never changes a
    result) and keeping at least one token of each context out. They are the same in every call
    with that prefix text, so a stored prefix is found again. A prefix shorter than
    ``min_tokens``, or with one request and not ``is_stored``, is not worth it: those requests
    come last, in one group with no shared ids.

    >>> prefix_groups(["ab", "ab", ""], [[1, 2, 3], [1, 2, 4], [5]], lambda p: [1, 2],
    ...               min_tokens=2, is_stored=lambda ids: False)
    [([0, 1], [1, 2]), ([2], [])]
    """
    groups: dict[str, list[int]] = {}
    for i, prefix in enumerate(prefixes):
        groups.setdefault(prefix, []).append(i)
    out: list[tuple[list[int], list[int]]] = []
    plain: list[int] = []
    for prefix, indices in groups.items():
        ids = encode_prefix(prefix) if prefix else []
        for i in indices:
            if not ids:
                break
            ids = ids[: min(common_prefix_length(ids, contexts[i]), len(contexts[i]) - 1)]
        if len(ids) >= min_tokens and (len(indices) > 1 or is_stored(ids)):
            out.append((indices, ids))
        else:
            plain.extend(indices)
    if plain:
        out.append((sorted(plain), []))
    return out

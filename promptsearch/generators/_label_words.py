"""Automatic label words (LM-BFF style): likely words per class, pruned by train accuracy."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence

import numpy as np

from promptsearch.backends import LMBackend
from promptsearch.tasks._records import Example
from promptsearch.templates import Prompt, Verbalizer

__all__ = ["search_label_words"]

_logger = logging.getLogger(__name__)
_WORD = re.compile(r"^ ?[A-Za-z]{2,}$")
_MAX_COMBINATIONS = 20000


def _word_tokens(vocabulary: Sequence[str]) -> dict[int, str]:
    """Vocabulary columns that read as a whole alphabetic word with a leading space."""
    return {
        tid: text.strip() for tid, text in enumerate(vocabulary) if _WORD.match(text) and text.startswith(" ")
    }


def search_label_words(
    scorer: LMBackend,
    prompt: Prompt,
    train: Sequence[Example],
    label_names: Sequence[str],
    *,
    words_per_label: int = 8,
    n_candidates: int = 4,
    seed: int = 0,
    max_accuracy_gap: float = 0.1,
) -> list[Verbalizer]:
    """Propose verbalizers for ``prompt``'s template from the model's own predictions.

    Needs a backend that gives next-token distributions (``capabilities.next_token_logprobs``).

    For each class, the single-token words with the highest mean log-probability at the label
    slot over that class's training examples, relative to their mean over all examples, are
    kept (each word for one class only). Every combination of one word per class is then
    ranked by train accuracy (ties broken by the mean margin of the true class) — computed from
    the same next-token distributions, so no further forward pass is needed.

    Candidates are kept diverse (no class word shared between two of them) and within
    ``max_accuracy_gap`` of the best combination's train accuracy.

    Returns:
        Up to ``n_candidates`` verbalizers, best first.
    """
    base = Prompt(prompt.template, prompt.verbalizer, instruction=prompt.instruction)
    instances = base.instances(train)
    dist = scorer.next_token_logprobs([i.full_context for i in instances], [i.suffix for i in instances])
    logp = np.maximum(dist.logprobs.astype(np.float64), -1e4)  # -inf (outside a top-k) -> very unlikely
    words = _word_tokens(dist.vocabulary)
    if not words:
        return []
    ids = np.array(sorted(words))
    sub = logp[:, ids]
    labels = np.array([list(label_names).index(e.label) for e in train])
    overall = sub.mean(axis=0)
    per_class = np.stack(
        [sub[labels == c].mean(axis=0) if np.any(labels == c) else overall for c in range(len(label_names))]
    )
    # LM-BFF: the most likely words for the class; of those, keep the most discriminative
    # (likelier for this class than on average), so the same generic word is not picked for all.
    contrast = per_class - overall
    tops: list[list[int]] = []
    for c in range(len(label_names)):
        likely = np.argsort(-per_class[c], kind="stable")[: 4 * words_per_label]
        best = likely[np.argsort(-contrast[c, likely], kind="stable")][:words_per_label]
        tops.append([int(x) for x in best])
    if any(not t for t in tops):
        return []
    combos = [c for c in itertools.product(*tops) if len(set(c)) == len(c)]
    if not combos:
        return []
    if len(combos) > _MAX_COMBINATIONS:
        rng = np.random.default_rng(seed)
        combos = [combos[i] for i in sorted(rng.choice(len(combos), _MAX_COMBINATIONS, replace=False))]
    combo_arr = np.array(combos)  # (n_combos, n_classes) column indices into sub
    scores = sub[:, combo_arr]  # (n_examples, n_combos, n_classes)
    pred = scores.argmax(axis=2)
    acc = (pred == labels[:, None]).mean(axis=0)
    true = np.take_along_axis(scores, labels[:, None, None].repeat(scores.shape[1], axis=1), axis=2)[..., 0]
    masked = scores.copy()
    np.put_along_axis(masked, labels[:, None, None].repeat(scores.shape[1], axis=1), -np.inf, axis=2)
    margin = (true - masked.max(axis=2)).mean(axis=0)
    out: list[Verbalizer] = []
    used: list[set[int]] = [set() for _ in label_names]
    for k in np.lexsort((-margin, -acc)):
        if acc[k] < acc.max() - max_accuracy_gap:
            break
        combo = combo_arr[k]
        # Prefer diverse candidates: no class word shared with an already chosen verbalizer.
        if any(int(combo[c]) in used[c] for c in range(len(label_names))):
            continue
        for c in range(len(label_names)):
            used[c].add(int(combo[c]))
        mapping = {lab: words[int(ids[combo[c]])] for c, lab in enumerate(label_names)}
        out.append(Verbalizer.from_mapping(mapping, label_names))
        _logger.info("automatic label words %s: train accuracy %.3f", mapping, acc[k])
        if len(out) >= n_candidates:
            break
    return out

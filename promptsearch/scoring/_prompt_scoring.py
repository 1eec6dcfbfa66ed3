"""Score a whole prompt on examples: render, fit to the context, score, aggregate, calibrate."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from promptsearch.backends import LMBackend, LoglikelihoodRequest, ProgressCallback
from promptsearch.exceptions import TemplateError
from promptsearch.tasks._records import Example
from promptsearch.templates._ensemble import PromptEnsemble
from promptsearch.templates._prompt import CONTENT_FREE_INPUTS, Prompt, PromptInstance

__all__ = [
    "ScoreCache",
    "aggregate_labels",
    "calibrate_scores",
    "ensemble_scores",
    "fit_instances",
    "raw_choice_scores",
    "request_key",
    "requests_of",
    "score_members",
    "score_prompt",
]

_MARGIN = 4  # tokens kept free for special tokens and tokenization effects at the cut
# A first cut by characters keeps this many per token of the budget (far more than any tokenizer
# packs into a token on real text), so that a huge input is never tokenized whole.
_CHARS_PER_TOKEN = 8


class ScoreCache(Protocol):
    """Stores raw choice scores and generated texts by (model, prompt, example).

    See :mod:`promptsearch.study` for the in-memory and SQLite implementations.
    """

    def get_many(self, model_id: str, prompt_id: str, example_ids: Sequence[str]) -> list[np.ndarray | None]:
        """Cached scores, ``None`` where absent."""

    def put_many(self, model_id: str, prompt_id: str, items: dict[str, np.ndarray]) -> None:
        """Store scores of several examples."""

    def get_texts(self, model_id: str, key: str, example_ids: Sequence[str]) -> list[str | None]:
        """Cached generated texts, ``None`` where absent."""

    def put_texts(self, model_id: str, key: str, items: dict[str, str]) -> None:
        """Store generated texts of several examples."""


def requests_of(instances: Sequence[PromptInstance]) -> list[LoglikelihoodRequest]:
    """Log-likelihood requests of rendered instances (shared prefix kept apart)."""
    return [LoglikelihoodRequest(i.context, i.choices, i.prefix, i.suffix) for i in instances]


def _reserved(scorer: LMBackend, prompt: Prompt, examples: Sequence[Example], reserve: int | None) -> int:
    """Tokens to keep free after the context: the longest continuation, or ``reserve``."""
    if reserve is not None:
        return reserve
    if prompt.verbalizer is not None:
        words = [w for _, w in prompt.verbalizer.pairs()]
    else:
        words = [c for ex in examples for c in ex.choices] or [""]
    return max(scorer.count_tokens(w if w.startswith(" ") else " " + w) for w in words)


def fit_instances(
    scorer: LMBackend, prompt: Prompt, examples: Sequence[Example], *, reserve: int | None = None
) -> list[PromptInstance]:
    """Render ``examples``; shorten the longest input field of any that would overflow the model.

    The template, instruction and demonstrations are never cut; a warning is logged once.
    ``reserve`` tokens are kept free after the context (default: the longest label word or
    choice; generation passes its ``max_new_tokens``).
    """
    prefix = prompt.prefix
    budget = scorer.max_length - _reserved(scorer, prompt, examples, reserve) - _MARGIN
    out: list[PromptInstance] = []
    for ex in examples:
        inst = prompt.instance(ex, prefix=prefix)
        if len((inst.full_context + inst.suffix).encode("utf-8")) <= budget:
            out.append(inst)
            continue
        fields = {name: _head(scorer, text, budget) for name, text in ex.inputs.items()}
        if fields != dict(ex.inputs):
            inst = prompt.instance(_with_inputs(ex, fields), prefix=prefix)
        for _ in range(4):
            overflow = scorer.count_tokens(inst.full_context + inst.suffix) - budget
            if overflow <= 0:
                break
            used = [f for f in prompt.template.fields if fields.get(f)]
            if not used:
                raise _too_long(
                    scorer, prompt, ex, reserved=scorer.max_length - _MARGIN - budget, generation=reserve
                )
            name = max(used, key=lambda f: len(fields[f]))
            keep = scorer.count_tokens(fields[name]) - overflow - _MARGIN
            if keep <= 0 and len(used) == 1:
                raise _too_long(
                    scorer, prompt, ex, reserved=scorer.max_length - _MARGIN - budget, generation=reserve
                )
            fields[name] = scorer.truncate_text(fields[name], keep)
            inst = prompt.instance(_with_inputs(ex, fields), prefix=prefix)
            scorer.warn_truncation_once(f"example {ex.id}, field {name!r}")
        out.append(inst)
    return out


def _too_long(
    scorer: LMBackend, prompt: Prompt, example: Example, *, reserved: int, generation: int | None
) -> TemplateError:
    """The error for a prompt that leaves no room for any input: which part takes the room."""
    bare = prompt.instance(_with_inputs(example, dict.fromkeys(example.inputs, "")), prefix=prompt.prefix)
    fixed = scorer.count_tokens(bare.full_context + bare.suffix)
    if generation is not None and generation >= fixed:
        fix = f"lower max_new_tokens (--max-new-tokens; {generation} now)"
    else:
        fix = "use fewer demonstrations or a shorter instruction"
    room = "for the answer (max_new_tokens)" if generation is not None else "for the longest label word"
    return TemplateError(
        f"The prompt without its inputs takes {fixed} tokens and {reserved} more are kept {room}: "
        f"together more than the model's context ({scorer.max_length} tokens), so no input fits; {fix}."
    )


def _head(scorer: LMBackend, text: str, n_tokens: int) -> str:
    """A prefix of ``text`` with more than ``n_tokens`` tokens, or ``text`` when it has fewer.

    Prefixes grow geometrically from ``_CHARS_PER_TOKEN`` characters per token, so the work is
    proportional to the budget, not to the text; cutting the prefix to ``n_tokens`` tokens later
    gives what cutting the whole text would.
    """
    chars = max(n_tokens, 1) * _CHARS_PER_TOKEN
    while chars < len(text):
        head = text[:chars]
        if scorer.count_tokens(head) > n_tokens + _MARGIN:
            return head
        chars *= 4
    return text


def _with_inputs(example: Example, fields: dict[str, str]) -> Example:
    from dataclasses import replace

    return replace(example, inputs=fields)


def aggregate_labels(raw: Sequence[np.ndarray], choice_labels: Sequence[int], n_labels: int) -> np.ndarray:
    """Combine the words of each label by log-sum-exp (the probability of saying any of them)."""
    out = np.full((len(raw), n_labels), -np.inf)
    if not raw:
        return out
    stacked = np.stack(raw)
    for lab in range(n_labels):
        cols = [j for j, c in enumerate(choice_labels) if c == lab]
        out[:, lab] = np.logaddexp.reduce(stacked[:, cols], axis=1)
    return out


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    shifted: np.ndarray = x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    return shifted


def calibrate_scores(
    label_scores: np.ndarray, content_free: np.ndarray, prior: Sequence[float] = ()
) -> np.ndarray:
    """Contextual calibration: divide label probabilities by the mean content-free ones.

    Zhao et al. (2021) then aim at equal class shares; with ``prior`` (the data's class shares)
    the calibrated probabilities are multiplied by it, so that a content-free input gets the
    data's balance instead of a uniform guess (on a 57/32/12 file, a uniform target cost 8
    points of accuracy).

    Example:
        >>> cf = np.log([[0.8, 0.2]])  # the prompt alone leans to class 0
        >>> np.exp(calibrate_scores(np.log([[0.8, 0.2]]), cf)).round(2)
        array([[0.5, 0.5]])
        >>> np.exp(calibrate_scores(np.log([[0.8, 0.2]]), cf, prior=(0.9, 0.1))).round(2)
        array([[0.9, 0.1]])
    """
    p_cf = np.exp(_log_softmax(content_free)).mean(axis=0)
    scores = _log_softmax(label_scores) - np.log(np.clip(p_cf, 1e-12, None))
    if len(prior):
        scores = scores + np.log(np.clip(np.asarray(prior, dtype=np.float64), 1e-12, None))
    return _log_softmax(scores)


def ensemble_scores(member_scores: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Per example, the mean over members of the log-softmax of each member's scores.

    ``member_scores[m][i]`` are member ``m``'s log-scores over example ``i``'s labels or choices.

    Example:
        >>> a, b = [np.log([0.2, 0.8])], [np.log([0.6, 0.4])]
        >>> np.exp(ensemble_scores([a, b])[0]).round(3)  # a geometric mean, not normalized
        array([0.346, 0.566])
    """
    if not member_scores:
        raise TemplateError("No member scores to combine: an ensemble needs at least two members.")
    n = len(member_scores[0])
    if any(len(s) != n for s in member_scores):
        raise TemplateError(
            f"The ensemble's members scored different numbers of examples: {[len(s) for s in member_scores]}."
        )
    out: list[np.ndarray] = []
    for i in range(n):
        rows = [np.asarray(s[i], dtype=float) for s in member_scores]
        if any(r.shape != rows[0].shape for r in rows):
            raise TemplateError(
                f"The ensemble's members scored example {i} over different numbers of options "
                f"({[r.shape[-1] for r in rows]}); every member needs the same labels or choices."
            )
        out.append(np.mean([_log_softmax(r) for r in rows], axis=0))
    return out


def score_members(
    members: Sequence[Prompt],
    n_examples: int,
    score: Callable[[Prompt, ProgressCallback | None], Sequence[np.ndarray]],
    progress: ProgressCallback | None = None,
) -> list[np.ndarray]:
    """An ensemble's scores, the one place they are made: each member scored by ``score(member,
    progress)`` (the same backend and cache; each member calibrates when it calibrates), then
    combined per example by :func:`ensemble_scores`. ``progress`` counts each example once."""
    share = None if progress is None else _SharedProgress(progress, len(members), n_examples)
    member_scores = [list(score(m, share)) for m in members]
    if share is not None:
        share.finish()
    return ensemble_scores(member_scores)


class _SharedProgress:
    def __init__(self, progress: ProgressCallback, n_members: int, n_examples: int) -> None:
        self.progress, self.n_members, self.n_examples = progress, max(n_members, 1), n_examples
        self.seen = self.sent = 0

    def __call__(self, n: int) -> None:
        self.seen += n
        self._send(min(self.seen // self.n_members, self.n_examples))

    def finish(self) -> None:
        """Report the examples not reported yet (a backend that reported fewer)."""
        self._send(self.n_examples)

    def _send(self, upto: int) -> None:
        if upto > self.sent:
            due, self.sent = upto - self.sent, upto
            self.progress(due)


def score_prompt(
    scorer: LMBackend,
    prompt: Prompt,
    examples: Sequence[Example],
    *,
    cache: ScoreCache | None = None,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Return label log-scores of shape ``(len(examples), n_labels)`` for ``prompt``.

    Raw per-word scores are read from and written to ``cache`` when given, so that no
    (model, prompt, example) triple is computed twice. With ``prompt.calibrate`` the scores
    are calibrated log-probabilities over the labels. For a
    :class:`~promptsearch.templates.PromptEnsemble`: the members' :func:`ensemble_scores`.
    """
    if isinstance(prompt, PromptEnsemble):
        combined = score_members(
            prompt.members,
            len(examples),
            lambda m, share: list(score_prompt(scorer, m, examples, cache=cache, progress=share)),
            progress,
        )
        n_labels = len(prompt.verbalizer.labels) if prompt.verbalizer is not None else 0
        return np.stack(combined) if combined else np.zeros((0, n_labels))
    if prompt.verbalizer is None:
        raise TemplateError(
            "score_prompt gives label scores and needs a prompt with label words; use "
            "promptsearch.scoring.predict for multiple-choice and generation prompts."
        )
    n_labels = len(prompt.verbalizer.labels)
    choice_labels = [lab for lab, _ in prompt.verbalizer.pairs()]
    raw = raw_choice_scores(scorer, prompt, list(examples), cache, progress)
    scores = aggregate_labels(raw, choice_labels, n_labels)
    if prompt.calibrate:
        content_free = [
            Example(id=f"content-free:{value}", inputs=dict.fromkeys(prompt.template.fields, value), label="")
            for value in CONTENT_FREE_INPUTS
        ]
        cf = aggregate_labels(
            raw_choice_scores(scorer, prompt, content_free, cache, None), choice_labels, n_labels
        )
        scores = calibrate_scores(scores, cf, prompt.prior if len(prompt.prior) == n_labels else ())
    return scores


def request_key(*parts: str) -> str:
    """Content hash of a request: identical renderings share cached results, whatever prompt
    (or worker) produced them."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


#: The "prompt" column of cache rows keyed by request content.
REQUESTS = "requests"


def raw_choice_scores(
    scorer: LMBackend,
    prompt: Prompt,
    examples: Sequence[Example],
    cache: ScoreCache | None,
    progress: ProgressCallback | None,
) -> list[np.ndarray]:
    """Log-probability of every continuation (label word or choice) of every example, cached by
    the content of each request (so two prompts that render an example alike score it once)."""
    model_id = str(scorer.model_id)
    instances = fit_instances(scorer, prompt, examples)
    keys = [request_key(i.prefix, i.context, "\x1e".join(i.choices), i.suffix) for i in instances]
    cached: list[np.ndarray | None] = (
        cache.get_many(model_id, REQUESTS, keys) if cache is not None else [None] * len(examples)
    )
    todo = [i for i, c in enumerate(cached) if c is None]
    raw: list[np.ndarray] = [c if c is not None else np.zeros(0) for c in cached]
    if todo:
        fresh = scorer.loglikelihood(requests_of([instances[i] for i in todo]), progress)
        for i, s in zip(todo, fresh):
            raw[i] = s
        if cache is not None:
            cache.put_many(model_id, REQUESTS, {keys[i]: s for i, s in zip(todo, fresh)})
    if progress is not None and len(todo) < len(examples):
        progress(len(examples) - len(todo))
    return raw

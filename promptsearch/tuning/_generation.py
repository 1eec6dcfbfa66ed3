"""Tuning generation prompts: the LM loss on reference tokens, the dev metric by generating.

A generation prompt ends where the answer starts. Training rows are the prompt's tokens (as
the backend generates after them, soft tokens as placeholders) followed by the answer: the
first reference of the example, joined to the prompt as demonstrations show answers, then the
task's first stop string (or the end-of-sequence token when it has none), so the model learns
where to stop. Only the answer tokens carry loss; the prompt, the soft tokens and the padding
have label -100. The dev score is the task's metric on texts generated with the tuned
weights through :func:`promptsearch.scoring.predict`, exactly as the search scores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptsearch.backends import GenerationSettings
from promptsearch.exceptions import ConfigError, DataError
from promptsearch.metrics import get_metric
from promptsearch.scoring import fit_instances, generation_settings, predict
from promptsearch.tasks._records import Example, Task
from promptsearch.templates._prompt import Prompt
from promptsearch.templates._template import SOFT_MARKER, join_label
from promptsearch.tuning._rows import context_ids, embed_ids

if TYPE_CHECKING:
    import torch

    from promptsearch.tuning._scorer import SoftPromptScorer

__all__ = [
    "IGNORE",
    "AnswerRow",
    "GenerationObjective",
    "LMBatch",
    "TextTarget",
    "answer_rows",
    "lm_batch",
    "lm_loss",
    "text_target",
]

#: Label of tokens that carry no loss (PyTorch's ``ignore_index`` default, as in ``transformers``).
IGNORE = -100


@dataclass(frozen=True)
class TextTarget:
    """What a generation prompt is tuned for.

    Attributes:
        task: A generation task (the search's, or one made from the examples).
        metric: Name of the dev metric (a metric of ``text`` predictions).
        settings: How dev answers are generated; ``settings.stop[0]`` ends training answers.
    """

    task: Task
    metric: str
    settings: GenerationSettings

    @property
    def sign(self) -> float:
        """+1 when a higher metric is better, -1 when lower is."""
        return get_metric(self.metric).sign


def text_target(
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    *,
    task: Task | None = None,
    metric: str | None = None,
    generation: GenerationSettings | None = None,
) -> TextTarget:
    """The task, metric and generation settings of tuning ``prompt`` on generation examples.

    Defaults: a generation task made from the examples (metric exact match), the task's metric,
    and ``generation_settings(task, prompt.separator)``.

    Raises:
        DataError: An example has no reference text, or a set is empty.
        ConfigError: ``task`` is not a generation task or ``metric`` does not read texts.
    """
    for what, examples in (("train", train), ("dev", dev)):
        if not examples:
            raise DataError(f"The {what} set is empty; give at least one example with a reference text.")
        missing = [e.id for e in examples if not e.references]
        if missing:
            raise DataError(
                f"Tuning a generation prompt trains on each example's first reference text, but {what} "
                f"example(s) {missing[:3]} have none; give every example at least one reference."
            )
    if task is None:
        fields = tuple(dict.fromkeys(k for e in (*train, *dev) for k in e.inputs))
        task = Task("tuning", fields, (), tuple(dev), task_type="generation")
    elif task.kind.output != "text":
        raise ConfigError(
            f"Task {task.name!r} is a {task.task_type} task, but the prompt is a generation prompt (no "
            "{label} slot); tune it with a generation task."
        )
    name = metric or task.metric
    get_metric(name).check_kind("text", "tuning metric")
    return TextTarget(task, name, generation or generation_settings(task, prompt.separator))


@dataclass(frozen=True)
class AnswerRow:
    """A prompt followed by its answer.

    Attributes:
        ids: Token ids, prompt then answer; ``-1 - k`` is soft token ``k``.
        n_answer: The last ``n_answer`` ids are the answer (the only tokens with a loss).
    """

    ids: tuple[int, ...]
    n_answer: int


def _answer_ids(tokenizer: Any, text: str, answer: str) -> list[int]:
    """Tokens of ``answer`` after ``text``: from their joint tokenization when it extends the
    text's own (so word-initial markers come out as in running text), else on their own."""
    rest = text.rsplit(SOFT_MARKER, 1)[-1]
    if rest:
        head = list(tokenizer(rest, add_special_tokens=False)["input_ids"])
        whole = list(tokenizer(rest + answer, add_special_tokens=False)["input_ids"])
        if whole[: len(head)] == head and len(whole) > len(head):
            return whole[len(head) :]
    return list(tokenizer(answer, add_special_tokens=False)["input_ids"])


def answer_rows(
    tokenizer: Any,
    contexts: Sequence[str],
    answers: Sequence[str],
    *,
    stop: Sequence[str],
    n_soft: int = 0,
    placement: str = "prefix",
    max_length: int | None = None,
) -> list[AnswerRow]:
    """Rows of prompts (``contexts``, the whole text the answer follows) and their answers.

    Each answer is joined to its context as a demonstration's answer is (a space unless the
    context ends in whitespace), followed by ``stop[0]``, or by the end-of-sequence token
    when ``stop`` is empty. A row longer than ``max_length`` loses its first prompt tokens
    (prefix soft tokens stay).

    Example:
        >>> rows = answer_rows(tok, ["Q: capital of France?\\nA:"], ["Paris"], stop=["\\n"])  # doctest: +SKIP
        >>> tok.decode(rows[0].ids[-rows[0].n_answer :])  # doctest: +SKIP
        ' Paris\\n'
    """
    rows = []
    for context, answer in zip(contexts, answers):
        prompt_ids = context_ids(tokenizer, context, n_soft, placement)
        text = join_label(context, answer) + (stop[0] if stop else "")
        ids = _answer_ids(tokenizer, context, text)
        if not stop:
            if tokenizer.eos_token_id is None:
                raise ConfigError(
                    "The generation settings have no stop string and the tokenizer has no end-of-sequence "
                    "token, so a tuned answer could not end; give the task a stop string."
                )
            ids.append(int(tokenizer.eos_token_id))
        if max_length is not None and len(prompt_ids) + len(ids) > max_length:
            keep = n_soft if placement == "prefix" else 0
            room = max(1, max_length - len(ids) - keep)
            prompt_ids = prompt_ids[:keep] + prompt_ids[keep:][-room:]
        rows.append(AnswerRow(tuple(prompt_ids + ids), len(ids)))
    return rows


@dataclass(frozen=True)
class LMBatch:
    """Left-padded rows ready for a causal LM.

    Attributes:
        ids: ``[rows, width]`` token ids (soft tokens below 0, padding = the pad id).
        mask: ``[rows, width]`` attention mask (1 on real and soft tokens).
        positions: ``[rows, width]`` position ids counted from each row's first token.
        labels: ``[rows, width]`` the answer tokens at their positions, -100 everywhere else.
        keep: Logits to compute, from the end: the longest answer plus one.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    positions: torch.Tensor
    labels: torch.Tensor
    keep: int


def lm_batch(rows: Sequence[AnswerRow], pad_id: int) -> LMBatch:
    """Left-pad ``rows`` (as generation does); labels are -100 except on answer tokens."""
    import torch

    width = max(len(r.ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, width - len(r.ids) :] = torch.tensor(r.ids, dtype=torch.long)
        mask[k, width - len(r.ids) :] = 1
        labels[k, width - r.n_answer :] = torch.tensor(r.ids[-r.n_answer :], dtype=torch.long)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return LMBatch(ids, mask, positions, labels, max(r.n_answer for r in rows) + 1)


def lm_loss(model: Any, batch: LMBatch, soft: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of the answer tokens (the mean over them, or their ``"sum"``).

    Differentiable in ``soft`` (``[n, hidden]``) and in whatever weights of ``model`` require
    gradients. Equal to ``model(input_ids, labels=...).loss`` for rows without soft tokens.
    """
    import torch

    device = model.get_input_embeddings().weight.device
    width = batch.ids.shape[1]
    logits = model(
        inputs_embeds=embed_ids(model, batch.ids.to(device), soft),
        attention_mask=batch.mask.to(device),
        position_ids=batch.positions.to(device),
        use_cache=False,
        logits_to_keep=batch.keep,
    ).logits[:, -batch.keep : -1]
    labels = batch.labels[:, width - batch.keep + 1 :].to(device)
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        labels.reshape(-1),
        ignore_index=IGNORE,
        reduction=reduction,
    )


class GenerationObjective:
    """Train loss and dev score of a generation prompt run by a soft-prompt scorer.

    The scorer's model is trained through (its soft embeddings, or LoRA layers in it); with
    zero soft tokens it is the plain model. ``loss(indices)`` is the mean answer-token
    cross-entropy of those training rows; ``evaluate()`` generates the dev answers with the
    scorer and returns ``(dev metric, dev answer-token loss)``.
    """

    def __init__(
        self,
        scorer: SoftPromptScorer,
        prompt: Prompt,
        train: Sequence[Example],
        dev: Sequence[Example],
        target: TextTarget,
    ) -> None:
        if not scorer.causal:
            raise ConfigError(
                f"{scorer.base_model.name!r} is a masked LM, which cannot generate; tune generation prompts "
                "on a causal LM (e.g. 'smollm2-135m-instruct')."
            )
        self.scorer, self.prompt, self.dev, self.target = scorer, prompt, tuple(dev), target
        self.metric, self.sign = target.metric, target.sign
        self._train = self._rows(train)
        self._dev = self._rows(dev)
        self.n_train = len(self._train)

    def _rows(self, examples: Sequence[Example]) -> list[AnswerRow]:
        tok = self.scorer.base_model.tokenizer
        longest = max(len(tok(e.references[0], add_special_tokens=False)["input_ids"]) for e in examples)
        instances = fit_instances(self.scorer, self.prompt, examples, reserve=longest + 2)
        return answer_rows(
            tok,
            [i.full_context for i in instances],
            [e.references[0] for e in examples],
            stop=self.target.settings.stop,
            n_soft=self.scorer.n_tokens,
            placement=self.scorer.placement,
            max_length=int(self.scorer.base_model.max_length),
        )

    @property
    def _pad(self) -> int:
        return int(self.scorer.base_model.tokenizer.pad_token_id or 0)

    def labels(self, indices: Sequence[int]) -> LMBatch:
        """The batch of training rows ``indices`` (its labels show what carries loss)."""
        return lm_batch([self._train[i] for i in indices], self._pad)

    def loss(self, indices: Sequence[int]) -> torch.Tensor:
        """Mean answer-token cross-entropy of training rows ``indices`` (differentiable)."""
        return lm_loss(self.scorer.base_model.model, self.labels(indices), self.scorer.embeddings)

    def evaluate(self) -> tuple[float, float]:
        """``(dev metric, dev loss)``: answers generated with the current weights, scored."""
        import torch

        out = predict(self.scorer, self.prompt, self.target.task, self.dev, generation=self.target.settings)
        value = float(get_metric(self.metric).aggregate(out.predictions))
        total, count = 0.0, 0
        size = max(1, self.scorer.batch_size)
        with torch.inference_mode():
            for start in range(0, len(self._dev), size):
                batch = lm_batch(self._dev[start : start + size], self._pad)
                total += float(
                    lm_loss(self.scorer.base_model.model, batch, self.scorer.embeddings, reduction="sum")
                )
                count += int((batch.labels != IGNORE).sum())
        return value, total / max(1, count)

"""What a prompt produces on examples, by prediction kind: a class, a choice or a text.

Task types declare the kind of prediction their prompts make (``TaskType.output``); the
strategy registered here for that kind turns a prompt and examples into
:class:`~promptsearch.metrics.Predictions` through the backend. Adding a kind is one
:class:`OutputStrategy` subclass plus :func:`register_output`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from promptsearch._registry import Registry
from promptsearch.backends import GenerationRequest, GenerationSettings, LMBackend, ProgressCallback
from promptsearch.exceptions import TemplateError
from promptsearch.metrics import Predictions
from promptsearch.scoring._prompt_scoring import (
    ScoreCache,
    fit_instances,
    raw_choice_scores,
    request_key,
    score_members,
    score_prompt,
)
from promptsearch.tasks._records import Example, Task
from promptsearch.templates._ensemble import PromptEnsemble
from promptsearch.templates._prompt import Prompt

__all__ = [
    "ChoiceScores",
    "GeneratedText",
    "LabelScores",
    "OutputStrategy",
    "PromptOutputs",
    "generation_settings",
    "outputs",
    "predict",
    "register_output",
    "softmax",
]


def generation_settings(
    task: Task,
    separator: str = "\n\n",
    *,
    max_new_tokens: int | None = None,
    stop: Sequence[str] | None = None,
) -> GenerationSettings:
    """How a task's answers are generated: ``max_new_tokens`` and ``stop`` where given, else the
    task's, else 32 tokens ending at a newline or the demonstration ``separator``."""
    default_stop = task.stop if task.stop is not None else tuple(dict.fromkeys(("\n", separator)))
    return GenerationSettings(
        max_new_tokens=max_new_tokens or task.max_new_tokens or 32,
        stop=tuple(stop) if stop is not None else default_stop,
    )


@dataclass(frozen=True)
class PromptOutputs:
    """A prompt's predictions on examples, and the scores behind them.

    Attributes:
        predictions: Predictions and targets, ready for any metric of their kind.
        scores: Per example, log-scores over the labels or choices (empty for texts).
    """

    predictions: Predictions
    scores: tuple[np.ndarray, ...] = field(default=(), repr=False)

    @property
    def probabilities(self) -> tuple[np.ndarray, ...]:
        """Softmax of each example's scores."""
        return tuple(softmax(s) for s in self.scores)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed stably."""
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    out: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return out


class OutputStrategy(ABC):
    """Turns a prompt and examples into predictions of one kind (``label``, ``choice``, ``text``).

    Attributes:
        kind: The prediction kind (the ``output`` of the task types it serves).
        answer_key: Name of the prediction in output rows of ``promptsearch predict``.
        has_scores: Its predictions come with scores over the options (probabilities).
    """

    kind: ClassVar[str] = ""
    answer_key: ClassVar[str] = "output"
    has_scores: ClassVar[bool] = True

    def options(self, example: Example, labels: Sequence[str]) -> list[str]:
        """What an example's scores are over: the labels or its own choices."""
        return list(labels)

    def answers(
        self, outputs: PromptOutputs, examples: Sequence[Example], labels: Sequence[str]
    ) -> list[str]:
        """Each prediction as text: a label name, a chosen answer or the generated text."""
        return [
            self.options(ex, labels)[int(p)] if self.has_scores else str(p)
            for ex, p in zip(examples, outputs.predictions.predicted)
        ]

    def target(self, task: Task, example: Example) -> int:
        """Index of the expected option in an example's scores (-1 when it has no label)."""
        return task.label_index(example.label) if example.label else -1

    def from_scores(
        self, task: Task, examples: Sequence[Example], scores: Sequence[np.ndarray]
    ) -> PromptOutputs:
        """Predictions from per-example log-scores over the options: the highest-scoring option,
        and the softmax probability of the expected one as the confidence.

        Example:
            >>> out = outputs.get("label").from_scores(task, examples, np.log([[0.3, 0.7]]))  # doctest: +SKIP
            >>> out.predictions.predicted  # doctest: +SKIP
            (1,)
        """
        if not self.has_scores:
            raise TemplateError(
                f"{self.kind!r} predictions are texts, not scores over options; they cannot be built from "
                "scores (an ensemble of prompts needs labels or choices)."
            )
        rows = tuple(np.asarray(s, dtype=float) for s in scores)
        targets = tuple(self.target(task, e) for e in examples)
        predictions = Predictions(
            self.kind,
            tuple(int(np.argmax(r)) for r in rows),
            targets,
            n_labels=len(task.label_names),
            confidence=_confidence([softmax(r) for r in rows], targets),
        )
        return PromptOutputs(predictions, rows)

    @abstractmethod
    def predict(
        self,
        backend: LMBackend,
        prompt: Prompt,
        task: Task,
        examples: Sequence[Example],
        *,
        cache: ScoreCache | None = None,
        progress: ProgressCallback | None = None,
        generation: GenerationSettings | None = None,
    ) -> PromptOutputs:
        """Predictions of ``prompt`` on ``examples`` (targets are -1 / empty where unknown)."""


#: Prediction kind -> strategy.
outputs: Registry[OutputStrategy] = Registry("prediction kind")


def register_output(cls: type[OutputStrategy]) -> type[OutputStrategy]:
    """Class decorator: register an instance of ``cls`` under ``cls.kind``, a prediction kind
    from then on (:func:`~promptsearch.metrics.register_prediction_kind`)."""
    from promptsearch.metrics import register_prediction_kind

    register_prediction_kind(cls.kind)
    outputs.register(cls.kind, cls())
    return cls


def _confidence(probs: Sequence[np.ndarray], targets: Sequence[int]) -> tuple[float, ...]:
    if any(t < 0 for t in targets):
        return ()
    return tuple(float(p[t]) for p, t in zip(probs, targets))


@register_output
class LabelScores(OutputStrategy):
    """Classification: label words scored at the ``{label}`` slot, calibrated if asked."""

    kind = "label"
    answer_key = "label"

    def predict(
        self,
        backend: LMBackend,
        prompt: Prompt,
        task: Task,
        examples: Sequence[Example],
        *,
        cache: ScoreCache | None = None,
        progress: ProgressCallback | None = None,
        generation: GenerationSettings | None = None,
    ) -> PromptOutputs:
        scores = score_prompt(backend, prompt, examples, cache=cache, progress=progress)
        return self.from_scores(task, examples, list(scores))


@register_output
class ChoiceScores(OutputStrategy):
    """Multiple choice: each example's own choices scored at the ``{label}`` slot."""

    kind = "choice"
    answer_key = "answer"

    def options(self, example: Example, labels: Sequence[str]) -> list[str]:
        return list(example.choices)

    def target(self, task: Task, example: Example) -> int:
        return example.choice_index if example.label else -1

    def predict(
        self,
        backend: LMBackend,
        prompt: Prompt,
        task: Task,
        examples: Sequence[Example],
        *,
        cache: ScoreCache | None = None,
        progress: ProgressCallback | None = None,
        generation: GenerationSettings | None = None,
    ) -> PromptOutputs:
        raw = raw_choice_scores(backend, prompt, examples, cache, progress)
        return self.from_scores(task, examples, raw)


@register_output
class GeneratedText(OutputStrategy):
    """Generation: the text generated after the prompt, cut at the stop strings."""

    kind = "text"
    has_scores = False

    def predict(
        self,
        backend: LMBackend,
        prompt: Prompt,
        task: Task,
        examples: Sequence[Example],
        *,
        cache: ScoreCache | None = None,
        progress: ProgressCallback | None = None,
        generation: GenerationSettings | None = None,
    ) -> PromptOutputs:
        settings = generation or generation_settings(task, prompt.separator)
        instances = fit_instances(backend, prompt, examples, reserve=settings.max_new_tokens)
        ids = [request_key(inst.prefix, inst.context) for inst in instances]  # by content, as for scores
        cached = (
            cache.get_texts(backend.model_id, settings.id, ids) if cache is not None else [None] * len(ids)
        )
        texts: list[str] = [c if c is not None else "" for c in cached]
        todo = [i for i, c in enumerate(cached) if c is None]
        if todo:
            requests = [GenerationRequest(instances[i].context, instances[i].prefix) for i in todo]
            fresh = backend.generate(requests, settings, progress)
            for i, text in zip(todo, fresh):
                texts[i] = text
            if cache is not None:
                cache.put_texts(backend.model_id, settings.id, {ids[i]: texts[i] for i in todo})
        if progress is not None and len(todo) < len(examples):
            progress(len(examples) - len(todo))
        predictions = Predictions(
            "text", tuple(t.strip() for t in texts), tuple(e.references for e in examples)
        )
        return PromptOutputs(predictions)


def predict(
    backend: LMBackend,
    prompt: Prompt,
    task: Task,
    examples: Sequence[Example],
    *,
    cache: ScoreCache | None = None,
    progress: ProgressCallback | None = None,
    generation: GenerationSettings | None = None,
) -> PromptOutputs:
    """What ``prompt`` produces on ``examples`` of ``task``, by the task type's prediction kind.

    A :class:`~promptsearch.templates.PromptEnsemble` is predicted member by member (same
    backend and cache; each member calibrates when it calibrates); per example, its scores are
    the mean over members of the log-softmax of their scores (:func:`ensemble_scores`), and its
    predictions are built from those. ``progress`` counts each example once.

    Raises:
        TemplateError: for an ensemble on a task that generates texts.

    Example:
        >>> out = predict(backend, prompt, task, split.dev)  # doctest: +SKIP
        >>> get_metric(task.metric).aggregate(out.predictions)  # doctest: +SKIP
    """
    strategy = outputs.get(task.kind.output)
    if not isinstance(prompt, PromptEnsemble):
        return strategy.predict(
            backend, prompt, task, examples, cache=cache, progress=progress, generation=generation
        )
    if not strategy.has_scores:
        raise TemplateError(
            f"Task {task.name!r} is a {task.task_type} task: its prompts generate texts, but a prompt "
            "ensemble averages scores over labels or choices; use a single prompt."
        )
    scores = score_members(
        prompt.members,
        len(examples),
        lambda m, share: (
            strategy.predict(
                backend, m, task, examples, cache=cache, progress=share, generation=generation
            ).scores
        ),
        progress,
    )
    return strategy.from_scores(task, examples, scores)

"""Evaluate one prompt on a split of a task: the Python entry point behind ``promptsearch evaluate``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from promptsearch.evaluation._metrics import bootstrap_ci, compute_metrics
from promptsearch.exceptions import DataError
from promptsearch.scoring import BaseScorer, ScoreCache, make_scorer, score_prompt
from promptsearch.scoring._base import ProgressCallback
from promptsearch.tasks._records import Example, Task
from promptsearch.templates import Prompt

__all__ = ["EvaluationResult", "evaluate", "evaluate_prompt"]


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of one prompt on one set of examples.

    Attributes:
        accuracy, macro_f1, balanced_accuracy: Metric values in [0, 1].
        n: Number of examples.
        metric: The metric the interval is for; ``ci_low``/``ci_high`` bound it (95 %).
        predictions, labels: Predicted and true class indices, in example order.
        probabilities: Per-class probabilities (softmax over label scores).
    """

    task: str
    model: str
    split: str
    prompt: dict[str, Any]
    n: int
    accuracy: float
    macro_f1: float
    balanced_accuracy: float
    metric: str
    ci_low: float
    ci_high: float
    seconds: float
    example_ids: tuple[str, ...] = field(repr=False, default=())
    predictions: tuple[int, ...] = field(repr=False, default=())
    labels: tuple[int, ...] = field(repr=False, default=())
    probabilities: tuple[tuple[float, ...], ...] = field(repr=False, default=())

    @property
    def score(self) -> float:
        """Value of :attr:`metric`."""
        return float(getattr(self, self.metric))

    def to_dict(self, *, details: bool = False) -> dict[str, Any]:
        """JSON-ready dict; per-example fields only with ``details=True``."""
        out = asdict(self)
        if not details:
            for key in ("example_ids", "predictions", "labels", "probabilities"):
                out.pop(key)
        return out


def evaluate_prompt(
    scorer: BaseScorer,
    prompt: Prompt,
    task: Task,
    examples: Sequence[Example],
    *,
    split: str = "test",
    cache: ScoreCache | None = None,
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Score ``prompt`` on ``examples`` with an existing scorer and compute the metrics."""
    if not examples:
        raise DataError(
            f"No examples to evaluate on ({split} split of {task.name!r}); check the split and --limit."
        )
    prompt.check(task)
    start = time.perf_counter()
    scores = score_prompt(scorer, prompt, examples, cache=cache, progress=progress)
    preds = scores.argmax(axis=1)
    labels = np.array([task.label_index(e.label) for e in examples])
    values = compute_metrics(labels, preds, len(task.label_names))
    low, high = bootstrap_ci(labels, preds, len(task.label_names), metric=task.metric)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = shifted / shifted.sum(axis=1, keepdims=True)
    return EvaluationResult(
        task=task.name,
        model=str(scorer.model.name),
        split=split,
        prompt=prompt.to_dict(),
        n=len(examples),
        accuracy=values["accuracy"],
        macro_f1=values["macro_f1"],
        balanced_accuracy=values["balanced_accuracy"],
        metric=task.metric,
        ci_low=low,
        ci_high=high,
        seconds=time.perf_counter() - start,
        example_ids=tuple(e.id for e in examples),
        predictions=tuple(int(p) for p in preds),
        labels=tuple(int(y) for y in labels),
        probabilities=tuple(tuple(float(x) for x in row) for row in probs),
    )


def evaluate(
    task: str | Task = "movies",
    model: Any = None,
    template: str | None = None,
    verbalizer: str | dict[str, Any] | None = None,
    *,
    instruction: str = "",
    split: str = "test",
    k: int = 16,
    seed: int = 13,
    limit: int | None = None,
    n_demonstrations: int = 0,
    calibrate: bool = False,
    batch_size: int | None = None,
    dtype: str = "auto",
    device: str = "auto",
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Evaluate a prompt on a task split.

    Args:
        task: A catalog name (``promptsearch data list``), a local file, or a :class:`Task`.
        model: A catalog name, a local folder, a hub id or a loaded model; default
            ``smollm2-135m-instruct``.
        template: Template with ``{field}`` slots and one ``{label}``; default: the task's.
        verbalizer: ``"negative,positive"`` (one word per label, ``|`` for synonyms) or a
            mapping; default: the task's.
        instruction: Text placed before the demonstrations and the example.
        split: ``train``, ``dev`` or ``test`` of the few-shot split (``k``, ``seed``).
        limit: Use only the first ``limit`` examples of the split.
        n_demonstrations: Random training examples shown before each query.
        calibrate: Contextual calibration with content-free inputs.

    Example:
        >>> result = promptsearch.evaluate("movies", template="Review: {text}\\nSentiment:{label}",
        ...                                verbalizer="negative,positive", limit=50)  # doctest: +SKIP
        >>> result.accuracy  # doctest: +SKIP
    """
    from promptsearch.models import DEFAULT_MODEL, load_model
    from promptsearch.tasks import few_shot_split, load_task

    task_obj = task if isinstance(task, Task) else load_task(task)
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be a positive number of examples, got {limit}.")
    split_obj = few_shot_split(task_obj, k=k, seed=seed)
    examples = list(split_obj.get(split))[:limit]
    demos: tuple[Example, ...] = ()
    if n_demonstrations:
        rng = np.random.default_rng(seed)
        pick = rng.choice(
            len(split_obj.train), size=min(n_demonstrations, len(split_obj.train)), replace=False
        )
        demos = tuple(split_obj.train[int(i)] for i in pick)
    prompt = Prompt.create(
        template or task_obj.template_or_default(),
        verbalizer if verbalizer is not None else task_obj.verbalizer_or_default(),
        task_obj.label_names,
        instruction=instruction,
        demonstrations=demos,
        calibrate=calibrate,
    )
    prompt.check(task_obj)
    loaded = load_model(model if model is not None else DEFAULT_MODEL, dtype=dtype, device=device)
    scorer = make_scorer(loaded, batch_size=batch_size)
    return evaluate_prompt(scorer, prompt, task_obj, examples, split=split, progress=progress)

"""Evaluate one prompt on a split of a task: the Python entry point behind ``promptsearch evaluate``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from promptsearch._limits import max_demonstrations
from promptsearch.backends import DEFAULT_BACKEND, GenerationSettings, LMBackend, ProgressCallback
from promptsearch.evaluation._intervals import score_metrics
from promptsearch.exceptions import ConfigError, DataError
from promptsearch.metrics import get_metric, metrics_for
from promptsearch.scoring import ScoreCache, generation_settings, predict
from promptsearch.tasks._records import Example, Task
from promptsearch.templates import Prompt

__all__ = ["EvaluationResult", "evaluate", "evaluate_prompt"]


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of one prompt on one set of examples.

    Every metric registered for the task's prediction kind is computed; read them in
    :attr:`metrics` or as attributes (``result.accuracy``, ``result.exact_match``).

    Attributes:
        n: Number of examples.
        metric: The task's metric; ``ci_low``/``ci_high`` bound it (95 % bootstrap).
        metrics: Metric name -> value.
        intervals: Metric name -> its 95 % percentile bootstrap interval ``(low, high)``, for
            every metric in :attr:`metrics` (the same resamples for all).
        predictions, labels: Predicted and expected class or choice indices, or generated
            texts and their references, in example order.
        probabilities: Per-example probabilities over labels or choices (empty for texts).
    """

    task: str
    model: str
    split: str
    prompt: dict[str, Any]
    n: int
    metric: str
    metrics: Mapping[str, float]
    ci_low: float
    ci_high: float
    seconds: float
    example_ids: tuple[str, ...] = field(repr=False, default=())
    predictions: tuple[Any, ...] = field(repr=False, default=())
    labels: tuple[Any, ...] = field(repr=False, default=())
    probabilities: tuple[tuple[float, ...], ...] = field(repr=False, default=())
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """Value of :attr:`metric`."""
        return float(self.metrics[self.metric])

    def __getattr__(self, name: str) -> float:
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return float(metrics[name])
        raise AttributeError(
            f"{type(self).__name__} has no attribute {name!r} (metrics computed: {sorted(metrics)})."
        )

    def to_dict(self, *, details: bool = False) -> dict[str, Any]:
        """JSON-ready dict; metric values also at the top level; per-example fields with ``details``."""
        out = asdict(self)
        out["metrics"] = dict(self.metrics)
        out["intervals"] = {name: [low, high] for name, (low, high) in self.intervals.items()}
        for name, value in self.metrics.items():
            out.setdefault(name, value)
        if not details:
            for key in ("example_ids", "predictions", "labels", "probabilities"):
                out.pop(key)
        return out


def evaluate_prompt(
    scorer: LMBackend,
    prompt: Prompt,
    task: Task,
    examples: Sequence[Example],
    *,
    split: str = "test",
    cache: ScoreCache | None = None,
    progress: ProgressCallback | None = None,
    metric: str | None = None,
    generation: GenerationSettings | None = None,
) -> EvaluationResult:
    """Run ``prompt`` on ``examples`` with a backend and compute the metrics.

    Every metric of the task's prediction kind is computed, each with its 95 % bootstrap
    interval (:attr:`EvaluationResult.intervals`); ``metric`` (default: the task's) is the one
    :attr:`EvaluationResult.score` and ``ci_low``/``ci_high`` report.
    """
    if not examples:
        raise DataError(
            f"No examples to evaluate on ({split} split of {task.name!r}); check the split and --limit."
        )
    prompt.check(task)
    name = metric or task.metric
    main = get_metric(name)
    main.check_kind(task.kind.output)
    start = time.perf_counter()
    out = predict(scorer, prompt, task, examples, cache=cache, progress=progress, generation=generation)
    preds = out.predictions
    names = [*metrics_for(task.kind.output), *([] if name in metrics_for(task.kind.output) else [name])]
    values, intervals = score_metrics(preds, names)
    low, high = intervals[name]
    return EvaluationResult(
        task=task.name,
        model=str(scorer.name),
        split=split,
        prompt=prompt.to_dict(),
        n=len(examples),
        metric=name,
        metrics=values,
        ci_low=low,
        ci_high=high,
        seconds=time.perf_counter() - start,
        example_ids=tuple(e.id for e in examples),
        predictions=tuple(preds.predicted),
        labels=tuple(preds.targets),
        probabilities=tuple(tuple(float(x) for x in p) for p in out.probabilities),
        intervals=intervals,
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
    backend: str = DEFAULT_BACKEND,
    metric: str | None = None,
    max_new_tokens: int | None = None,
    stop: Sequence[str] | None = None,
    backend_options: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    """Evaluate a prompt on a task split.

    Args:
        task: A catalog name (``promptsearch data list``), a local file, or a :class:`Task`.
        model: A catalog name, a local folder, a hub id, a loaded model or a backend; default
            ``smollm2-135m-instruct``.
        template: Template with ``{field}`` slots (and one ``{label}`` unless the task is a
            generation task); default: the task's.
        verbalizer: ``"negative,positive"`` (one word per label, ``|`` for synonyms) or a
            mapping; default: the task's. Classification only.
        instruction: Text placed before the demonstrations and the example.
        split: ``train``, ``dev`` or ``test`` of the few-shot split (``k``, ``seed``).
        limit: Use only the first ``limit`` examples of the split.
        n_demonstrations: Random training examples shown before each query.
        calibrate: Contextual calibration with content-free inputs (classification).
        backend: The backend that runs ``model`` (``hf`` by default; ``openai`` for a served
            model, with ``backend_options={"base_url": "http://HOST:PORT/v1"}``).
        metric: The metric the interval is for (default: the task's).
        max_new_tokens, stop: Generation tasks: the longest answer in tokens and the strings that
            end it (default: the task's, else 32 tokens ending at a newline), as a search
            space's ``generation:`` section sets them.
        backend_options: Options of the backend (a space's ``backend.options``).

    Example:
        >>> result = promptsearch.evaluate("movies", template="Review: {text}\\nSentiment:{label}",
        ...                                verbalizer="negative,positive", limit=50)  # doctest: +SKIP
        >>> result.accuracy  # doctest: +SKIP
    """
    from promptsearch.backends import load_backend
    from promptsearch.models import DEFAULT_MODEL
    from promptsearch.tasks import few_shot_split, load_task

    task_obj = task if isinstance(task, Task) else load_task(task)
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be a positive number of examples, got {limit}.")
    if metric is not None:
        get_metric(metric).check_kind(task_obj.kind.output, "--metric")
    _check_generation(task_obj, max_new_tokens, stop)
    # The template, label words and calibration are checked before the split and the model.
    Prompt.for_task(task_obj, template, verbalizer, instruction=instruction, calibrate=calibrate)
    split_obj = few_shot_split(task_obj, k=k, seed=seed)
    examples = list(split_obj.get(split))[:limit]
    demos: tuple[Example, ...] = ()
    if n_demonstrations:
        limit = max_demonstrations()
        if n_demonstrations > limit:
            raise ConfigError(
                f"--demos {n_demonstrations} is more than the limit of {limit} demonstrations: prompts that "
                "long outgrow small models' context windows (PROMPTSEARCH_MAX_DEMONSTRATIONS raises it)."
            )
        rng = np.random.default_rng(seed)
        pick = rng.choice(
            len(split_obj.train), size=min(n_demonstrations, len(split_obj.train)), replace=False
        )
        demos = tuple(split_obj.train[int(i)] for i in pick)
    prompt = Prompt.for_task(
        task_obj, template, verbalizer, instruction=instruction, demonstrations=demos, calibrate=calibrate
    )
    lm = load_backend(
        backend,
        model if model is not None else DEFAULT_MODEL,
        dtype=dtype,
        device=device,
        batch_size=batch_size,
        **dict(backend_options or {}),
    )
    generation = None
    if max_new_tokens is not None or stop is not None:
        generation = generation_settings(task_obj, prompt.separator, max_new_tokens=max_new_tokens, stop=stop)
    return evaluate_prompt(
        lm, prompt, task_obj, examples, split=split, progress=progress, metric=metric, generation=generation
    )


def _check_generation(task: Task, max_new_tokens: int | None, stop: Sequence[str] | None) -> None:
    """Check the generation options before any work."""
    if max_new_tokens is None and stop is None:
        return
    if task.kind.output != "text":
        raise ConfigError(
            f"--max-new-tokens and --stop set how answers are generated; task {task.name!r} is a "
            f"{task.task_type} task, which scores its answers instead. Leave them out."
        )
    if max_new_tokens is not None and max_new_tokens < 1:
        raise ConfigError(f"--max-new-tokens must be at least 1, got {max_new_tokens}.")
    if stop is not None and any(not s for s in stop):
        raise ConfigError("--stop strings must not be empty; leave out the empty one.")

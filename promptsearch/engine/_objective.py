"""The study's objective: a prompt's metric on the dev set, scored in chunks for the pruner.

Each dev example's value is the metric's per-example value plus ``TIE_BREAK`` times the
probability the model gave the expected answer (for class and choice predictions): the
probability breaks ties between prompts of equal metric without ever outweighing one more
correct example. Paired metrics (the mean of their per-example values) report those values
to per-example pruners; the others report their per-example proxy and are judged by their
aggregate.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from promptsearch.backends import GenerationSettings, LMBackend
from promptsearch.metrics import BaseMetric, Predictions
from promptsearch.scoring import ScoreCache, predict
from promptsearch.study import Attr
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt

if TYPE_CHECKING:
    import optuna

__all__ = ["TIE_BREAK", "DevObjective"]

_logger = logging.getLogger(__name__)

#: Weight of the probability of the expected answer in each example's value.
TIE_BREAK = 0.01


class DevObjective:
    """Scores prompts on the selection examples, chunk by chunk, reporting per-example values.

    The selection examples are the dev set, or train and dev together (demonstrations then
    drawn leave-one-out). They are visited in one order fixed for the study (drawn with
    ``seed``), and example ``i`` is always reported at step ``i``, as Optuna's
    ``WilcoxonPruner`` requires.

    Args:
        backend: The study's backend (a tuned trial passes its own to :meth:`run`).
        task: The task (its type says what prompts produce).
        dev: The selection examples (the dev set, or train and dev).
        metric: The metric to optimize.
        cache: Score and text cache shared by every trial.
        chunk_size: Examples scored between pruning checks.
        per_example_reports: Report each example's value (paired pruners) instead of the
            running objective.
        seed: Seed of the dev order.
        generation: Generation settings of generation tasks.
    """

    def __init__(
        self,
        backend: LMBackend,
        task: Task,
        dev: Sequence[Example],
        metric: BaseMetric,
        *,
        cache: ScoreCache | None,
        chunk_size: int = 8,
        per_example_reports: bool = True,
        seed: int = 0,
        generation: GenerationSettings | None = None,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.dev = [dev[i] for i in rng.permutation(len(dev))]
        self.backend = backend
        self.task = task
        self.metric = metric
        self.cache = cache
        self.chunk_size = max(1, chunk_size)
        self.per_example_reports = per_example_reports
        self.generation = generation
        self.sign = metric.sign
        if per_example_reports and not metric.paired:
            _logger.info(
                "%s is not a mean over examples: the pruner compares trials on its per-example proxy, "
                "trials are ranked by %s itself.",
                metric.name,
                metric.name,
            )

    def predictions(
        self, prompt: Prompt, examples: Sequence[Example], backend: LMBackend | None = None
    ) -> Predictions:
        """Predictions of ``prompt`` on ``examples`` by ``backend`` (default: the study's).

        Results are cached under the backend's model id; tuned backends carry a content hash
        of their trained weights in it, so their results never mix with the base model's.
        """
        out = predict(
            backend or self.backend, prompt, self.task, examples, cache=self.cache, generation=self.generation
        )
        return out.predictions

    def values(self, predictions: Predictions) -> np.ndarray:
        """Per-example objective values: the metric's value plus the tie-break."""
        values = self.metric.per_example(predictions)
        if predictions.confidence:
            values = values + self.sign * TIE_BREAK * np.asarray(predictions.confidence)
        return values

    def objective(self, predictions: Predictions) -> float:
        """The objective over ``predictions``: the metric's aggregate plus the mean tie-break."""
        if self.metric.paired:
            return float(np.mean(self.values(predictions))) if len(predictions) else 0.0
        value = self.metric.aggregate(predictions)
        if predictions.confidence:
            value += self.sign * TIE_BREAK * float(np.mean(predictions.confidence))
        return value

    def steps(self, only: Collection[str] | None = None) -> list[tuple[int, Example]]:
        """(step, example) pairs in the study's order; ``only``: those with these ids."""
        return [(i, e) for i, e in enumerate(self.dev) if only is None or e.id in only]

    def full(
        self, prompt: Prompt, backend: LMBackend | None = None, *, only: Collection[str] | None = None
    ) -> tuple[float, float]:
        """Objective and metric on every example (``only``: those with these ids), no pruning."""
        preds = self.predictions(prompt, [e for _, e in self.steps(only)], backend)
        return self.objective(preds), self.metric.aggregate(preds)

    def run(
        self,
        trial: optuna.Trial,
        prompt: Prompt,
        backend: LMBackend | None = None,
        *,
        only: Collection[str] | None = None,
    ) -> float:
        """Score ``prompt`` chunk by chunk; stop early when the pruner says so.

        ``backend`` replaces the study's (a tuned model or soft prompt). ``only`` restricts
        scoring to the examples with these ids (tuned trials: the dev examples); each is still
        reported at its own step, so pruners compare trials on the examples they share.
        """
        import optuna

        steps = self.steps(only)
        parts: list[Predictions] = []
        seen = 0
        own = backend or self.backend
        before = own.stats.instances
        for start in range(0, len(steps), self.chunk_size):
            chunk = steps[start : start + self.chunk_size]
            preds = self.predictions(prompt, [e for _, e in chunk], backend)
            parts.append(preds)
            seen += len(chunk)
            if self.per_example_reports:
                for (step, _), v in zip(chunk, self.values(preds)):
                    trial.report(float(v), step)
            else:
                trial.report(self.objective(Predictions.concat(parts)), seen)
            if seen < len(steps) and _should_prune(trial):
                trial.set_user_attr(Attr.PRUNED_AT, seen)
                break
        done = Predictions.concat(parts)
        trial.set_user_attr(Attr.N_EVALUATED, seen)
        trial.set_user_attr(Attr.DEV_METRIC, self.metric.aggregate(done))
        trial.set_user_attr(Attr.EVALUATIONS, own.stats.instances - before)
        if seen < len(steps) and not self.per_example_reports:
            raise optuna.TrialPruned()
        return self.objective(done)


def _should_prune(trial: optuna.Trial) -> bool:
    """``trial.should_prune()`` without Optuna's warning that the best trial lacks some of this
    trial's steps: trials judged on dev only (fitted label words, tuned weights) share only
    the dev steps with the others, by design, and paired pruners compare the shared ones."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*steps existing in the current trial but does not exist")
        return bool(trial.should_prune())

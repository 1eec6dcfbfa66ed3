"""Prompt tuning: train soft prompt embeddings by gradient descent, the model frozen."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from promptsearch.backends import GenerationSettings
from promptsearch.tasks._records import Example, Task
from promptsearch.templates._prompt import Prompt
from promptsearch.tuning._common import (
    Best,
    MemoryMeter,
    ReportCallback,
    check_placement,
    frozen,
    initial_embeddings,
    stop_requested,
)
from promptsearch.tuning._config import SoftPromptConfig
from promptsearch.tuning._modes import TuningMode, register_tuning_mode
from promptsearch.tuning._objective import objective_for
from promptsearch.tuning._soft_result import SoftPromptResult

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel

__all__ = ["minibatches", "train_soft_prompt"]

_logger = logging.getLogger(__name__)


def minibatches(n: int, batch_size: int, seed: int) -> Iterator[list[int]]:
    """Endless index batches: a fresh seeded shuffle per pass over ``range(n)``."""
    rng = random.Random(seed)
    order: list[int] = []
    while True:
        batch: list[int] = []
        while len(batch) < min(batch_size, n):
            if not order:
                order = list(range(n))
                rng.shuffle(order)
            batch.append(order.pop())
        yield batch


def train_soft_prompt(
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: SoftPromptConfig | None = None,
    *,
    report: ReportCallback | None = None,
    task: Task | None = None,
    metric: str | None = None,
    generation: GenerationSettings | None = None,
) -> SoftPromptResult:
    """Prompt tuning (Lester et al., 2021) of classification and generation prompts.

    PEFT creates and initializes the soft prompt (``PromptTuningConfig`` + ``get_peft_model``);
    the forward pass is promptsearch's own (:class:`SoftPromptScorer`), which pads as
    ``[pads][soft][text]`` with correct position ids instead of PEFT's
    ``[virtual][pads][text]``. The loss is the cross-entropy of the label scores
    (log-softmax over the labels' log-probabilities); AdamW updates the soft prompt only, the
    model's weights never change (they are frozen during the run, then their flags restored).
    Dropout stays off (the model is in eval mode). Calibration is not applied in training.

    A generation prompt (causal LMs) is trained with the LM loss of each training example's
    first reference followed by the task's first stop string (only the answer tokens carry
    loss), and judged by the task's metric on dev answers generated with the soft prompt
    through :func:`promptsearch.scoring.predict` (see :mod:`promptsearch.tuning._generation`).

    Every ``eval_every`` steps (and before the first) the dev value (accuracy, or the
    generation metric) is measured and ``report(step, dev_value)`` is called; True stops the
    run (an Optuna pruner's hook). The best embeddings (dev value, ties broken by dev loss) are
    kept, and the run stops after ``patience`` evaluations without improvement.

    Args:
        model: A causal (or masked) LM.
        prompt: Template (with ``{soft:N}`` slots for placement ``"slot"``), verbalizer,
            instruction and demonstrations.
        train: Training examples.
        dev: Examples for evaluation, early stopping and ``report``.
        config: Hyperparameters; defaults to ``SoftPromptConfig()``.
        report: ``report(step, dev_value) -> stop``.
        task: Generation prompts: the task (its metric, stop strings and ``max_new_tokens``);
            default: a generation task made from the examples (exact match).
        metric: Generation prompts: the dev metric instead of the task's.
        generation: Generation prompts: how dev answers are generated (default
            ``generation_settings(task, prompt.separator)``); its first stop string ends
            the training answers.

    Returns:
        The best soft prompt and the run's history and costs.

    Example:
        >>> result = train_soft_prompt(lm, prompt, split.train, split.dev)  # doctest: +SKIP
        >>> scores = score_prompt(result.scorer(lm), prompt, split.test)  # doctest: +SKIP
    """
    import torch

    from promptsearch.tuning._scorer import SoftPromptScorer

    config = config or SoftPromptConfig()
    check_placement(prompt, config.n_tokens, config.placement)
    started = time.perf_counter()
    meter = MemoryMeter(model.device)
    init, _ = initial_embeddings(model, config.n_tokens, config.init, config.init_text, config.seed)
    soft = torch.nn.Parameter(init)
    scorer = SoftPromptScorer(model, soft, placement=config.placement, batch_size=max(config.batch_size, 8))
    objective = objective_for(scorer, prompt, train, dev, task=task, metric=metric, generation=generation)
    optimizer = torch.optim.AdamW([soft], lr=config.lr, weight_decay=config.weight_decay)
    batches = minibatches(objective.n_train, config.batch_size, config.seed)
    best = Best(sign=objective.sign)
    history: list[tuple[int, float, float]] = []
    losses: list[float] = []
    train_seconds = 0.0
    steps_done = 0

    def checkpoint(step: int, window: list[float]) -> bool:
        value, dev_loss = objective.evaluate()
        history.append((step, float(sum(window) / len(window)) if window else math.nan, value))
        best.offer(step, value, dev_loss, lambda: soft.detach().clone())
        _logger.info("step %d: train loss %.4f, dev %s %.4f", step, history[-1][1], objective.metric, value)
        if stop_requested(report, step, value):
            return True
        return config.patience > 0 and best.since >= config.patience

    with frozen(model.model):
        stop = checkpoint(0, [])
        window: list[float] = []
        while not stop and steps_done < config.steps:
            t0 = time.perf_counter()
            loss = objective.loss(next(batches))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            train_seconds += time.perf_counter() - t0
            steps_done += 1
            losses.append(float(loss.detach()))
            window.append(losses[-1])
            if steps_done % config.eval_every == 0 or steps_done == config.steps:
                stop = checkpoint(steps_done, window)
                window = []
    return SoftPromptResult(
        embeddings=best.state.float().cpu(),
        config=config,
        history=history,
        best_step=best.step,
        dev_accuracy=best.accuracy,
        seconds=time.perf_counter() - started,
        seconds_per_step=train_seconds / max(1, steps_done),
        peak_memory_mb=meter.peak_mb(),
        step_losses=losses,
        method="prompt_tuning",
        model_name=model.name,
        initial_dev_accuracy=history[0][2],
        metric=objective.metric,
    )


register_tuning_mode(
    TuningMode(
        "prompt_tuning",
        SoftPromptConfig,
        train_soft_prompt,
        "promptsearch.tuning._soft_result:load_soft_prompt_backend",
        "pt",
        soft=True,
        outputs=frozenset({"label", "text"}),
    )
)

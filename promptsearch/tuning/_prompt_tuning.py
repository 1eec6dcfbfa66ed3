"""Prompt tuning: train soft prompt embeddings by gradient descent, the model frozen."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from promptsearch.scoring._prompt_scoring import fit_instances
from promptsearch.tasks._records import Example
from promptsearch.templates._prompt import Prompt
from promptsearch.tuning._common import (
    Best,
    MemoryMeter,
    ReportCallback,
    check_placement,
    evaluate,
    frozen,
    initial_embeddings,
    label_indices,
    stop_requested,
)
from promptsearch.tuning._common import (
    n_labels as count_labels,
)
from promptsearch.tuning._config import SoftPromptConfig
from promptsearch.tuning._modes import TuningMode, register_tuning_mode
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
) -> SoftPromptResult:
    """Prompt tuning (Lester et al., 2021) with the prompt's verbalizer as the objective.

    PEFT creates and initializes the soft prompt (``PromptTuningConfig`` + ``get_peft_model``);
    the forward pass is promptsearch's own (:class:`SoftPromptScorer`), which pads as
    ``[pads][soft][text]`` with correct position ids instead of PEFT's
    ``[virtual][pads][text]``. The loss is the cross-entropy of the label scores
    (log-softmax over the labels' log-probabilities); AdamW updates the soft prompt only, the
    model's weights never change (they are frozen during the run, then their flags restored).
    Dropout stays off (the model is in eval mode). Calibration is not applied in training.

    Every ``eval_every`` steps (and before the first) the dev accuracy is measured and
    ``report(step, dev_accuracy)`` is called; True stops the run (an Optuna pruner's hook).
    The best embeddings (dev accuracy, ties broken by dev loss) are kept, and the run stops
    after ``patience`` evaluations without improvement.

    Args:
        model: A causal (or masked) LM.
        prompt: Template (with ``{soft:N}`` slots for placement ``"slot"``), verbalizer,
            instruction and demonstrations.
        train: Training examples.
        dev: Examples for evaluation, early stopping and ``report``.
        config: Hyperparameters; defaults to ``SoftPromptConfig()``.
        report: ``report(step, dev_accuracy) -> stop``.

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
    n_labels = count_labels(prompt)
    train_labels = label_indices(prompt, train, "train")
    dev_labels = label_indices(prompt, dev, "dev")
    init, _ = initial_embeddings(model, config.n_tokens, config.init, config.init_text, config.seed)
    soft = torch.nn.Parameter(init)
    scorer = SoftPromptScorer(model, soft, placement=config.placement, batch_size=max(config.batch_size, 8))
    train_inst = fit_instances(scorer, prompt, train)
    dev_inst = fit_instances(scorer, prompt, dev)
    optimizer = torch.optim.AdamW([soft], lr=config.lr, weight_decay=config.weight_decay)
    batches = minibatches(len(train_inst), config.batch_size, config.seed)
    best = Best()
    history: list[tuple[int, float, float]] = []
    losses: list[float] = []
    train_seconds = 0.0
    steps_done = 0

    def checkpoint(step: int, window: list[float]) -> bool:
        accuracy, dev_loss = evaluate(scorer, dev_inst, dev_labels, n_labels)
        history.append((step, float(sum(window) / len(window)) if window else math.nan, accuracy))
        best.offer(step, accuracy, dev_loss, lambda: soft.detach().clone())
        _logger.info("step %d: train loss %.4f, dev accuracy %.4f", step, history[-1][1], accuracy)
        if stop_requested(report, step, accuracy):
            return True
        return config.patience > 0 and best.since >= config.patience

    with frozen(model.model):
        stop = checkpoint(0, [])
        window: list[float] = []
        while not stop and steps_done < config.steps:
            t0 = time.perf_counter()
            idx = next(batches)
            scores = scorer.label_log_probs([train_inst[i] for i in idx], n_labels)
            target = torch.tensor([train_labels[i] for i in idx], device=scores.device)
            loss = torch.nn.functional.cross_entropy(scores, target)
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
    )


register_tuning_mode(
    TuningMode(
        "prompt_tuning",
        SoftPromptConfig,
        train_soft_prompt,
        "promptsearch.tuning._soft_result:load_soft_prompt_backend",
        "pt",
        soft=True,
    )
)

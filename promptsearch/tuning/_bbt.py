"""Black-box tuning (BBT, Sun et al., 2022): CMA-ES over a random projection of the soft prompt."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ConfigError
from promptsearch.scoring._prompt_scoring import fit_instances
from promptsearch.tasks._records import Example
from promptsearch.templates._prompt import Prompt
from promptsearch.tuning._common import (
    Best,
    MemoryMeter,
    ReportCallback,
    check_placement,
    evaluate,
    initial_embeddings,
    label_indices,
    stop_requested,
)
from promptsearch.tuning._common import (
    n_labels as count_labels,
)
from promptsearch.tuning._config import BBTConfig
from promptsearch.tuning._modes import TuningMode, register_tuning_mode
from promptsearch.tuning._rows import Row
from promptsearch.tuning._soft_result import SoftPromptResult

if TYPE_CHECKING:
    import numpy as np
    import torch

    from promptsearch.models import LoadedModel

__all__ = ["projection", "train_bbt"]

_logger = logging.getLogger(__name__)


def projection(
    n_values: int, intrinsic_dim: int, embedding_std: float, sigma: float, seed: int
) -> torch.Tensor:
    """The fixed random matrix ``A`` (``[n_values, intrinsic_dim]``) of BBT.

    Entries are ``N(0, s^2)`` with ``s = embedding_std / (sqrt(d) * sigma)`` (BBT's choice):
    for ``z ~ N(0, sigma^2 I_d)`` each coordinate of ``A @ z`` then has the standard deviation
    of the model's word embeddings, so CMA-ES's first steps move the prompt by about one
    embedding's spread. Drawn from a private generator seeded with ``seed``.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    scale = embedding_std / (math.sqrt(intrinsic_dim) * sigma)
    return torch.randn(n_values, intrinsic_dim, generator=gen) * scale


def _population_rows(rows: Sequence[Row], n_instances: int, population: int) -> list[Row]:
    """``rows`` repeated for each candidate; instance ``i`` of candidate ``c`` is ``c * n + i``."""
    return [
        Row(r.ids, tuple((c * n_instances + t[0], t[1], t[2], t[3]) for t in r.targets))
        for c in range(population)
        for r in rows
    ]


def train_bbt(
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: BBTConfig | None = None,
    *,
    report: ReportCallback | None = None,
) -> SoftPromptResult:
    """Search a soft prompt without gradients (only forward passes, e.g. behind an API).

    The soft prompt is ``init + (A @ z).reshape(n_tokens, hidden)`` with ``A`` from
    :func:`projection` and ``init`` made as for prompt tuning (PEFT initialization). CMA-ES
    (``cmaes.CMA``) searches ``z``; a candidate's fitness is the cross-entropy of the label
    scores on the whole training set, computed under ``torch.inference_mode``. A whole
    generation is scored together: population x training rows go through the model in
    batches of ``config.batch_size`` sequences, each row with its candidate's soft prompt.

    After each generation its lowest-loss candidate is evaluated on dev and
    ``report(iteration, dev_accuracy)`` is called (True stops). The kept prompt is the best
    on dev (ties: lower dev loss); iteration 0 is ``z = 0``, so the result is never worse on
    dev than the initial prompt. ``step_losses`` holds each generation's best train loss.

    Args:
        model: A causal (or masked) LM; its weights are only read.
        prompt: Template (``{soft:N}`` slots for placement ``"slot"``) and verbalizer.
        train: Examples of the fitness.
        dev: Examples for selection and ``report``.
        config: Hyperparameters; defaults to ``BBTConfig()``.
        report: ``report(iteration, dev_accuracy) -> stop``.

    Example:
        >>> result = train_bbt(lm, prompt, split.train, split.dev, BBTConfig(iterations=5))  # doctest: +SKIP
    """
    import numpy as np
    import torch
    from cmaes import CMA

    from promptsearch.tuning._scorer import SoftPromptScorer

    config = config or BBTConfig()
    if prompt.verbalizer is None:
        raise ConfigError(
            "BBT (black-box tuning) searches a soft prompt by the cross-entropy of label words, and this "
            f"{'generation' if prompt.template.generation else 'multiple-choice'} prompt has none; tune "
            "classification prompts with bbt, and generation prompts with prompt_tuning or lora."
        )
    check_placement(prompt, config.n_tokens, config.placement)
    started = time.perf_counter()
    meter = MemoryMeter(model.device)
    n_labels = count_labels(prompt)
    train_labels = label_indices(prompt, train, "train")
    dev_labels = label_indices(prompt, dev, "dev")
    init, _ = initial_embeddings(model, config.n_tokens, config.init, config.init_text, config.seed)
    n_tokens, hidden = init.shape
    emb_std = float(model.model.get_input_embeddings().weight.detach().float().std())
    A = projection(n_tokens * hidden, config.intrinsic_dim, emb_std, config.sigma, config.seed).to(
        init.device
    )
    scorer = SoftPromptScorer(model, init, placement=config.placement, batch_size=config.batch_size)
    train_inst = fit_instances(scorer, prompt, train)
    dev_inst = fit_instances(scorer, prompt, dev)
    base_rows = scorer.encode(train_inst)
    target = torch.tensor(train_labels, device=init.device)

    def soft_of(z: np.ndarray) -> torch.Tensor:
        delta = A @ torch.as_tensor(z, dtype=torch.float32, device=A.device)
        return init + delta.view(n_tokens, hidden)

    def fitness(zs: np.ndarray) -> np.ndarray:
        soft = torch.stack([soft_of(z) for z in zs])
        per_instance = soft.repeat_interleave(len(train_inst), dim=0)
        rows = _population_rows(base_rows, len(train_inst), len(zs))
        with torch.inference_mode():
            scores = scorer.label_log_probs(list(train_inst) * len(zs), n_labels, per_instance, rows)
            losses = (
                torch.nn.functional.cross_entropy(scores, target.repeat(len(zs)), reduction="none")
                .view(len(zs), -1)
                .mean(-1)
            )
        result: np.ndarray = losses.double().cpu().numpy()
        return result

    best = Best()
    history: list[tuple[int, float, float]] = []
    step_losses: list[float] = []

    def checkpoint(step: int, z: np.ndarray, train_loss: float) -> bool:
        accuracy, dev_loss = evaluate(scorer, dev_inst, dev_labels, n_labels, soft_of(z))
        history.append((step, train_loss, accuracy))
        best.offer(step, accuracy, dev_loss, lambda: soft_of(z).detach().clone())
        _logger.info("BBT iteration %d: best train loss %.4f, dev accuracy %.4f", step, train_loss, accuracy)
        return stop_requested(report, step, accuracy)

    zero = np.zeros(config.intrinsic_dim)
    stop = checkpoint(0, zero, float(fitness(zero[None])[0]))
    cma: Any = CMA(mean=zero, sigma=config.sigma, seed=config.seed, population_size=config.population)
    search_seconds = 0.0
    done = 0
    while not stop and done < config.iterations:
        t0 = time.perf_counter()
        zs = np.stack([cma.ask() for _ in range(cma.population_size)])
        losses = fitness(zs)
        cma.tell([(z, float(v)) for z, v in zip(zs, losses)])
        search_seconds += time.perf_counter() - t0
        done += 1
        k = int(np.argmin(losses))
        step_losses.append(float(losses[k]))
        stop = checkpoint(done, zs[k], float(losses[k]))
    return SoftPromptResult(
        embeddings=best.state.float().cpu(),
        config=config,
        history=history,
        best_step=best.step,
        dev_accuracy=best.accuracy,
        seconds=time.perf_counter() - started,
        seconds_per_step=search_seconds / max(1, done),
        peak_memory_mb=meter.peak_mb(),
        step_losses=step_losses,
        method="bbt",
        model_name=model.name,
        initial_dev_accuracy=history[0][2],
    )


register_tuning_mode(
    TuningMode(
        "bbt",
        BBTConfig,
        train_bbt,
        "promptsearch.tuning._soft_result:load_soft_prompt_backend",
        "bbt",
        soft=True,
    )
)

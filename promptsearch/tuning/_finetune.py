"""Prompt-based fine-tuning (LM-BFF style): fixed template, verbalizer loss, LoRA or full."""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import random
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.backends import GenerationSettings
from promptsearch.exceptions import ConfigError, TemplateError
from promptsearch.tasks._records import Example, Task
from promptsearch.templates._prompt import Prompt
from promptsearch.tuning._common import Best, MemoryMeter, ReportCallback, stop_requested
from promptsearch.tuning._config import FinetuneConfig
from promptsearch.tuning._finetune_result import FinetuneResult, content_digest
from promptsearch.tuning._modes import TuningMode, register_tuning_mode
from promptsearch.tuning._objective import objective_for

if TYPE_CHECKING:
    import torch

    from promptsearch.models import LoadedModel

__all__ = ["finetune", "finetune_full", "finetune_lora"]

_logger = logging.getLogger(__name__)


def _epoch_batches(n: int, batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    order = list(range(n))
    rng.shuffle(order)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def _prepare(model: LoadedModel, config: FinetuneConfig) -> tuple[Any, Any, list[Any]]:
    """Deep-copy the model and make it trainable; return ``(network, peft model or None, params)``."""
    import torch

    net = copy.deepcopy(model.model)
    if config.mode == "full":
        for p in net.parameters():
            p.requires_grad_(True)
        return net, None, list(net.parameters())
    from peft import LoraConfig, get_peft_model

    causal = str(getattr(model.kind, "value", model.kind)) == "causal"
    target: Any = (
        config.target_modules if isinstance(config.target_modules, str) else list(config.target_modules)
    )
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=target,
        task_type="CAUSAL_LM" if causal else None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        with warnings.catch_warnings():  # PEFT reads a property that transformers 5 deprecates
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            peft_model = get_peft_model(net, lora)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    # LoRA layers are injected into ``net`` in place: the scorer runs ``net`` directly.
    return net, peft_model, params


def finetune(
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: FinetuneConfig | None = None,
    *,
    report: ReportCallback | None = None,
    task: Task | None = None,
    metric: str | None = None,
    generation: GenerationSettings | None = None,
) -> FinetuneResult:
    """Fine-tune the model through the prompt: the cross-entropy of the label scores, or for a
    generation prompt the LM loss of the reference tokens.

    The caller's model is never modified: its weights are deep-copied first, which costs one
    more copy of the model in memory (LoRA then adds small adapters and their optimizer state;
    full fine-tuning adds gradients and two AdamW moments, about 4x the weights in total, plus
    one more copy for the best state). Label scores are those of the causal scorer (summed
    log-probabilities of each word, log-sum-exp over a label's words), with gradients through
    the model. Dropout is on during steps (``train()`` mode), off for evaluation.

    A generation prompt (causal LMs) is trained on each training example's first reference
    followed by the task's first stop string, only the answer tokens carrying loss, and judged
    by the task's metric on dev answers generated with the model being tuned (through
    :func:`promptsearch.scoring.predict`; see :mod:`promptsearch.tuning._generation`).

    The dev value (accuracy, or the generation metric) is measured before training and after
    each epoch; ``report(epoch, dev_value)`` returning True stops. The best epoch's weights
    (dev value, ties: dev loss) are kept. With LoRA the result's model has the adapters merged
    into its weights, so every scorer uses it as a plain ``transformers`` model; ``save``
    writes the adapters.

    Args:
        model: A causal (or masked) LM; unchanged by this function.
        prompt: Template and verbalizer (no ``{soft:N}`` slots).
        train: Training examples.
        dev: Examples for selection and ``report``.
        config: Hyperparameters; defaults to ``FinetuneConfig()`` (LoRA).
        report: ``report(epoch, dev_value) -> stop``.
        task, metric, generation: Generation prompts, as in
            :func:`~promptsearch.tuning.train_soft_prompt`.

    Example:
        >>> result = finetune(lm, prompt, split.train, split.dev, FinetuneConfig(epochs=3))  # doctest: +SKIP
        >>> score_prompt(make_scorer(result.model), prompt, split.test)  # doctest: +SKIP
    """
    import torch

    from promptsearch.tuning._scorer import SoftPromptScorer

    config = config or FinetuneConfig()
    if prompt.template.n_soft:
        raise TemplateError(
            "Fine-tuning keeps the template fixed and cannot fill {soft:N} slots; remove them or use "
            "train_soft_prompt."
        )
    started = time.perf_counter()
    meter = MemoryMeter(model.device)
    net, peft_model, params = _prepare(model, config)
    hidden = int(net.get_input_embeddings().weight.shape[-1])
    work = dataclasses.replace(model, model=net)
    device = net.get_input_embeddings().weight.device
    scorer = SoftPromptScorer(
        work, torch.zeros(0, hidden, device=device), batch_size=max(config.batch_size, 8)
    )
    objective = objective_for(scorer, prompt, train, dev, task=task, metric=metric, generation=generation)
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    rng = random.Random(config.seed)
    best = Best(sign=objective.sign)
    history: list[tuple[int, float, float]] = []
    losses: list[float] = []
    train_seconds = 0.0

    def snapshot() -> list[torch.Tensor]:
        return [p.detach().clone() for p in params]

    def checkpoint(epoch: int, window: list[float]) -> bool:
        net.eval()
        value, dev_loss = objective.evaluate()
        history.append((epoch, sum(window) / len(window) if window else math.nan, value))
        best.offer(epoch, value, dev_loss, snapshot)
        _logger.info("epoch %d: train loss %.4f, dev %s %.4f", epoch, history[-1][1], objective.metric, value)
        return stop_requested(report, epoch, value)

    stop = checkpoint(0, [])
    epoch = 0
    while not stop and epoch < config.epochs:
        epoch += 1
        window: list[float] = []
        net.train()
        for idx in _epoch_batches(objective.n_train, config.batch_size, rng):
            t0 = time.perf_counter()
            loss = objective.loss(idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            train_seconds += time.perf_counter() - t0
            losses.append(float(loss.detach()))
            window.append(losses[-1])
        stop = checkpoint(epoch, window)
    with torch.no_grad():
        for p, kept in zip(params, best.state):
            p.copy_(kept)
    del optimizer
    net.eval()
    adapter: dict[str, torch.Tensor] | None = None
    adapter_config = None
    if peft_model is not None:
        from peft import get_peft_model_state_dict

        adapter = {
            k: v.detach().cpu().clone().contiguous() for k, v in get_peft_model_state_dict(peft_model).items()
        }
        adapter_config = peft_model.peft_config["default"]
        net = peft_model.merge_and_unload()
    for p in net.parameters():
        p.requires_grad_(False)
    digest = content_digest(adapter if adapter is not None else dict(net.state_dict()))
    tuned = dataclasses.replace(model, model=net, name=f"{model.name}+{config.mode}-{digest}")
    return FinetuneResult(
        model=tuned,
        config=config,
        history=history,
        best_step=best.step,
        dev_accuracy=best.accuracy,
        seconds=time.perf_counter() - started,
        seconds_per_step=train_seconds / max(1, len(losses)),
        peak_memory_mb=meter.peak_mb(),
        step_losses=losses,
        initial_dev_accuracy=history[0][2],
        metric=objective.metric,
        base_name=model.name,
        adapter=adapter,
        adapter_config=adapter_config,
    )


def _finetune_mode(
    mode: str,
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: FinetuneConfig | None,
    report: ReportCallback | None,
    **generation: Any,
) -> FinetuneResult:
    if config is None:
        config = FinetuneConfig(mode=mode)
    elif config.mode != mode:
        raise ConfigError(
            f"The {mode!r} tuner got FinetuneConfig(mode={config.mode!r}); use the {config.mode!r} tuner."
        )
    return finetune(model, prompt, train, dev, config, report=report, **generation)


def finetune_lora(
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: FinetuneConfig | None = None,
    *,
    report: ReportCallback | None = None,
    task: Task | None = None,
    metric: str | None = None,
    generation: GenerationSettings | None = None,
) -> FinetuneResult:
    """:func:`finetune` with LoRA adapters."""
    return _finetune_mode(
        "lora", model, prompt, train, dev, config, report, task=task, metric=metric, generation=generation
    )


def finetune_full(
    model: LoadedModel,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    config: FinetuneConfig | None = None,
    *,
    report: ReportCallback | None = None,
    task: Task | None = None,
    metric: str | None = None,
    generation: GenerationSettings | None = None,
) -> FinetuneResult:
    """:func:`finetune` of all weights."""
    return _finetune_mode(
        "full", model, prompt, train, dev, config, report, task=task, metric=metric, generation=generation
    )


def load_finetuned_backend(model: LoadedModel, folder: Path, batch_size: int | None) -> Any:
    """The ``hf`` backend of a model fine-tuned and saved by :meth:`FinetuneResult.save`."""
    from promptsearch.backends import hf_backend
    from promptsearch.tuning._finetune_result import load_finetuned

    return hf_backend(load_finetuned(model, folder), batch_size=batch_size)


_BOTH = frozenset({"label", "text"})  # classification and generation prompts
register_tuning_mode(
    TuningMode(
        "lora",
        FinetuneConfig,
        finetune_lora,
        load_finetuned_backend,
        "lora",
        defaults={"mode": "lora"},
        outputs=_BOTH,
    )
)
register_tuning_mode(
    TuningMode(
        "full",
        FinetuneConfig,
        finetune_full,
        load_finetuned_backend,
        "ft",
        defaults={"mode": "full"},
        outputs=_BOTH,
    )
)

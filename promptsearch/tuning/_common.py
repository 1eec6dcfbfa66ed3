"""Pieces shared by the tuners: initialization through PEFT, evaluation, memory, freezing."""

from __future__ import annotations

import contextlib
import logging
import resource
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ConfigError, DataError, TemplateError
from promptsearch.metrics import ACCURACY
from promptsearch.tasks._records import Example
from promptsearch.templates._prompt import Prompt, PromptInstance
from promptsearch.tuning._config import SoftInit

if TYPE_CHECKING:
    import torch

    from promptsearch.models import LoadedModel
    from promptsearch.tuning._scorer import SoftPromptScorer

__all__ = [
    "Best",
    "MemoryMeter",
    "ReportCallback",
    "TrainingStats",
    "check_placement",
    "evaluate",
    "frozen",
    "initial_embeddings",
    "label_indices",
    "n_labels",
]

_logger = logging.getLogger(__name__)

#: ``report(step, dev_value) -> stop``: return True to stop training (e.g. an Optuna pruner). The
#: dev value is the accuracy (classification) or the task's metric (generation prompts).
ReportCallback = Callable[[int, float], bool]

_PEFT_INIT = {SoftInit.TEXT: "TEXT", SoftInit.VOCAB: "SAMPLE_VOCAB", SoftInit.RANDOM: "RANDOM"}


def n_labels(prompt: Prompt) -> int:
    """Number of labels of the prompt's verbalizer; tuning trains on label words."""
    if prompt.verbalizer is None:
        raise ConfigError(
            "This tuner trains on the prompt's label words, and this prompt has none (a multiple-choice or "
            "generation prompt); tune a classification prompt, or a generation prompt with prompt_tuning, "
            "lora or full."
        )
    return len(prompt.verbalizer.labels)


def label_indices(prompt: Prompt, examples: Sequence[Example], what: str) -> list[int]:
    """Index of each example's label in the verbalizer; clear errors for empty or odd data."""
    if not examples:
        raise DataError(f"The {what} set is empty; give at least one labelled example.")
    n_labels(prompt)
    assert prompt.verbalizer is not None
    labels = list(prompt.verbalizer.labels)
    unknown = sorted({e.label for e in examples} - set(labels))
    if unknown:
        raise DataError(
            f"{what} labels {unknown} are not in the verbalizer's labels {labels}; "
            "fix the data or the verbalizer."
        )
    return [labels.index(e.label) for e in examples]


def check_placement(prompt: Prompt, n_tokens: int, placement: str) -> None:
    """The template's ``{soft:N}`` slots must fit the placement and the number of soft tokens."""
    n_soft = prompt.template.n_soft
    if placement == "prefix" and n_soft:
        raise TemplateError(
            f"The template has {n_soft} soft token(s) in {{soft:N}} slots but placement is 'prefix'; "
            "use placement='slot' or remove the slots."
        )
    if placement == "slot" and n_soft != n_tokens:
        raise ConfigError(
            f"placement='slot' needs the template's {{soft:N}} slots to hold n_tokens={n_tokens} "
            f"soft tokens, but they hold {n_soft}; set n_tokens={n_soft} or change the template."
        )


@contextlib.contextmanager
def frozen(module: Any) -> Iterator[None]:
    """Turn off ``requires_grad`` of every parameter of ``module``; restore the flags afterwards."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _tokenizer_folder(tokenizer: Any, tmp: str) -> str:
    name = str(getattr(tokenizer, "name_or_path", "") or "")
    if name and (Path(name) / "tokenizer_config.json").is_file():
        return name
    tokenizer.save_pretrained(tmp)
    return tmp


def initial_embeddings(
    model: LoadedModel, n_tokens: int, init: SoftInit, init_text: str, seed: int
) -> tuple[torch.Tensor, Any]:
    """Initial soft prompt ``[n_tokens, hidden]`` (float32) made by PEFT prompt tuning.

    PEFT builds the prompt encoder (``get_peft_model`` with a ``PromptTuningConfig``); its
    embedding weight is copied out and the wrapper dropped. The base model's
    ``requires_grad`` flags, which PEFT turns off, are restored, so the caller's model is
    unchanged. Returns the embeddings and PEFT's filled-in ``PromptTuningConfig``.
    """
    import torch
    from peft import PromptTuningConfig, get_peft_model

    causal = str(getattr(model.kind, "value", model.kind)) == "causal"
    with tempfile.TemporaryDirectory() as tmp, torch.random.fork_rng(devices=[]), frozen(model.model):
        torch.manual_seed(seed)
        text = init is SoftInit.TEXT
        config = PromptTuningConfig(
            task_type="CAUSAL_LM" if causal else "FEATURE_EXTRACTION",
            num_virtual_tokens=n_tokens,
            prompt_tuning_init=_PEFT_INIT[init],
            prompt_tuning_init_text=init_text if text else None,
            tokenizer_name_or_path=_tokenizer_folder(model.tokenizer, tmp) if text else None,
        )
        with warnings.catch_warnings():  # PEFT reads a property that transformers 5 deprecates
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            peft_model = get_peft_model(model.model, config)
        encoder: Any = peft_model.prompt_encoder["default"]
        weight = encoder.embedding.weight
        embeddings = weight.detach().clone().float()
        filled = peft_model.peft_config["default"]
        del peft_model
    if init is SoftInit.RANDOM:
        # nn.Embedding draws N(0, 1), far from real embeddings: scale to the vocabulary's spread.
        std = float(model.model.get_input_embeddings().weight.detach().float().std())
        embeddings = embeddings * std
    device = model.model.get_input_embeddings().weight.device
    return embeddings.to(device), filled


def evaluate(
    scorer: SoftPromptScorer,
    instances: Sequence[PromptInstance],
    labels: Sequence[int],
    n_labels: int,
    soft: torch.Tensor | None = None,
) -> tuple[float, float]:
    """Dev ``(accuracy, cross-entropy)`` of the scorer's soft prompt (no gradients)."""
    import torch

    with torch.inference_mode():
        scores = scorer.label_log_probs(instances, n_labels, soft)
        target = torch.tensor(list(labels), device=scores.device)
        loss = float(torch.nn.functional.cross_entropy(scores, target))
        accuracy = float((scores.argmax(-1) == target).float().mean())
    return accuracy, loss


@dataclass
class Best:
    """The best evaluation so far: the better dev value (accuracy, or a generation metric; higher
    is better unless ``sign`` is -1), ties broken by lower dev loss."""

    step: int = -1
    accuracy: float = -1.0
    loss: float = float("inf")
    state: Any = None
    since: int = 0
    sign: float = 1.0

    def offer(self, step: int, accuracy: float, loss: float, state: Callable[[], Any]) -> bool:
        """Record an evaluation; return whether it is the new best (``state()`` is then kept)."""
        better = self.step < 0 or self.sign * accuracy > self.sign * self.accuracy
        if better or (accuracy == self.accuracy and loss < self.loss):
            self.step, self.accuracy, self.loss, self.state, self.since = step, accuracy, loss, state(), 0
            return True
        self.since += 1
        return False


class MemoryMeter:
    """Peak memory of a run, in MiB.

    On CUDA: ``torch.cuda.max_memory_allocated`` after resetting the peak (tensors only). On
    CPU: the process's peak resident set size (``ru_maxrss``) at the end of the run, so it
    includes the model and everything the process held before; compare runs made in fresh
    processes. ``growth_mb`` is the rise of that peak during the run (0 if an earlier peak was
    higher).
    """

    def __init__(self, device: str) -> None:
        import torch

        self.cuda = str(device).startswith("cuda") and torch.cuda.is_available()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        self._start = self._rss()

    @staticmethod
    def _rss() -> float:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1024 / (1024 if sys.platform == "darwin" else 1)

    def peak_mb(self) -> float:
        if self.cuda:
            import torch

            return float(torch.cuda.max_memory_allocated()) / 2**20
        return self._rss()

    def growth_mb(self) -> float:
        return max(0.0, self._rss() - self._start)


def stop_requested(report: ReportCallback | None, step: int, accuracy: float) -> bool:
    """Call ``report``; True means stop."""
    if report is None:
        return False
    stop = bool(report(step, accuracy))
    if stop:
        _logger.info("Stopped at step %d by the report callback (dev value %.4f).", step, accuracy)
    return stop


@dataclass(kw_only=True)
class TrainingStats:
    """How a training run went; the shared part of every tuner's result.

    Attributes:
        history: ``(step, train_loss, dev_accuracy)`` at each evaluation; step 0 is before
            training (its train loss may be NaN). For generation prompts the dev value is
            :attr:`metric` and the train loss the LM loss of the reference tokens.
        best_step: Step (or epoch) of the kept weights.
        dev_accuracy: Dev accuracy of the kept weights (generation: their dev :attr:`metric`).
        seconds: Wall time of the whole run (evaluations included).
        seconds_per_step: Mean wall time of one optimizer step (BBT: one CMA-ES generation),
            evaluations excluded.
        peak_memory_mb: See :class:`MemoryMeter` (CUDA: peak allocated tensors; CPU: the
            process's peak resident memory).
        step_losses: Training loss of every step (BBT: the best loss of each generation).
        initial_dev_accuracy: Dev accuracy before training.
        metric: What the dev values are: ``accuracy``, or a generation metric (``exact_match``).
    """

    history: list[tuple[int, float, float]]
    best_step: int
    dev_accuracy: float
    seconds: float
    seconds_per_step: float
    peak_memory_mb: float
    step_losses: list[float] = field(default_factory=list)
    initial_dev_accuracy: float = float("nan")
    metric: str = ACCURACY

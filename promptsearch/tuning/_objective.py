"""What gradient tuners minimize and how they judge a checkpoint, by the prompt's kind.

Classification prompts: the cross-entropy of the label scores, judged by dev accuracy.
Generation prompts: the LM loss on the reference tokens, judged by the task's metric on
generated dev answers (:mod:`promptsearch.tuning._generation`). Multiple-choice prompts are
not tuned yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from promptsearch.backends import GenerationSettings
from promptsearch.exceptions import ConfigError
from promptsearch.metrics import ACCURACY
from promptsearch.scoring._prompt_scoring import fit_instances
from promptsearch.tasks._records import Example, Task
from promptsearch.templates._prompt import Prompt
from promptsearch.tuning._common import evaluate, label_indices
from promptsearch.tuning._common import n_labels as count_labels
from promptsearch.tuning._generation import GenerationObjective, text_target

if TYPE_CHECKING:
    import torch

    from promptsearch.tuning._scorer import SoftPromptScorer

__all__ = ["LabelObjective", "Objective", "objective_for"]


class Objective(Protocol):
    """A training objective over the training examples (by index) and a dev evaluation.

    Attributes:
        metric: Name of the dev value ``evaluate`` returns (``accuracy``, ``exact_match``, ...).
        sign: +1 when a higher dev value is better, -1 when lower is.
        n_train: Number of training examples.
    """

    metric: str
    sign: float
    n_train: int

    def loss(self, indices: Sequence[int]) -> torch.Tensor:
        """Differentiable mean loss of the training examples ``indices``."""
        ...

    def evaluate(self) -> tuple[float, float]:
        """``(dev value, dev loss)`` of the current weights, without gradients."""
        ...


class LabelObjective:
    """Classification: cross-entropy of the label scores; dev accuracy (ties: dev loss)."""

    metric = ACCURACY
    sign = 1.0

    def __init__(
        self, scorer: SoftPromptScorer, prompt: Prompt, train: Sequence[Example], dev: Sequence[Example]
    ) -> None:
        self.scorer = scorer
        self.n_labels = count_labels(prompt)
        self._train_labels = label_indices(prompt, train, "train")
        self._dev_labels = label_indices(prompt, dev, "dev")
        self._train = fit_instances(scorer, prompt, train)
        self._dev = fit_instances(scorer, prompt, dev)
        self.n_train = len(self._train)

    def loss(self, indices: Sequence[int]) -> torch.Tensor:
        import torch

        scores = self.scorer.label_log_probs([self._train[i] for i in indices], self.n_labels)
        target = torch.tensor([self._train_labels[i] for i in indices], device=scores.device)
        return torch.nn.functional.cross_entropy(scores, target)

    def evaluate(self) -> tuple[float, float]:
        return evaluate(self.scorer, self._dev, self._dev_labels, self.n_labels)


def objective_for(
    scorer: SoftPromptScorer,
    prompt: Prompt,
    train: Sequence[Example],
    dev: Sequence[Example],
    *,
    task: Task | None = None,
    metric: str | None = None,
    generation: GenerationSettings | None = None,
) -> Objective:
    """The objective of tuning ``prompt`` through ``scorer`` (see the module docstring).

    ``task``, ``metric`` and ``generation`` apply to generation prompts (see
    :func:`~promptsearch.tuning._generation.text_target`).

    Raises:
        ConfigError: For a multiple-choice prompt.
    """
    if prompt.template.generation:
        target = text_target(prompt, train, dev, task=task, metric=metric, generation=generation)
        return GenerationObjective(scorer, prompt, train, dev, target)
    if prompt.verbalizer is None:
        raise ConfigError(
            "Tuning trains a classification prompt on its label words, or a generation prompt on its "
            "reference texts; this is a multiple-choice prompt (choices of its own per example), which "
            "cannot be tuned yet. Search it without `tuning`."
        )
    return LabelObjective(scorer, prompt, train, dev)

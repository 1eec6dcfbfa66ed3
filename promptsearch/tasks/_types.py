"""Task types: what an example expects, how splits are drawn, and what a prompt produces.

A task type is data-side knowledge only. It declares the kind of prediction its prompts make
(``output``: a class, a choice or a text, see :data:`promptsearch.metrics.KINDS`), and the
scoring layer runs the strategy registered for that kind, as lm-evaluation-harness tasks
declare an ``output_type``. Adding a task type is one subclass plus :func:`register_task_type`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from promptsearch._registry import Registry
from promptsearch.exceptions import DataError

if TYPE_CHECKING:
    from promptsearch.tasks._records import Example, Task

__all__ = ["TaskType", "register_task_type", "task_types"]


class TaskType(ABC):
    """What a kind of task expects of its examples and its prompts.

    Attributes:
        name: Registry name (``Task.task_type``).
        output: Prediction kind of its prompts: ``"label"``, ``"choice"`` or ``"text"``.
        default_metric: Metric optimized when neither the task nor the space names one.
        answer_slot: Templates carry a ``{label}`` slot where the answer goes; otherwise the
            answer follows the end of the template (generation).
        label_words: Prompts map labels to words (verbalizers, label-word search, calibration).
    """

    name: ClassVar[str] = ""
    output: ClassVar[str] = ""
    default_metric: ClassVar[str] = ""
    answer_slot: ClassVar[bool] = True
    label_words: ClassVar[bool] = False

    @abstractmethod
    def check_task(self, task: Task) -> None:
        """Raise :class:`~promptsearch.exceptions.DataError` when the examples do not fit the type."""

    def strata(self, task: Task, pool: Sequence[Example]) -> list[tuple[str, list[Example]]]:
        """Groups a few-shot split draws ``k`` examples from, in a fixed order (one group here)."""
        return [("all", list(pool))]

    def generic_template(self, fields: Sequence[str]) -> str:
        """A plain starting template over ``fields``."""
        body = "\n".join(f"{f.replace('_', ' ').capitalize()}: {{{f}}}" for f in fields)
        return body + ("\nAnswer:{label}" if self.answer_slot else "\nAnswer:")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


#: Task type name -> task type object.
task_types: Registry[TaskType] = Registry("task type")


def register_task_type(cls: type[TaskType]) -> type[TaskType]:
    """Class decorator: register an instance of ``cls`` under ``cls.name``."""
    task_types.register(cls.name, cls())
    return cls


@register_task_type
class Classification(TaskType):
    """A fixed set of labels, each said with label words after the template (a verbalizer)."""

    name = "classification"
    output = "label"
    default_metric = "accuracy"
    label_words = True

    def check_task(self, task: Task) -> None:
        if not task.label_names:
            raise DataError(f"Task {task.name!r} has no labels; give at least two label names.")
        if len(set(task.label_names)) != len(task.label_names):
            raise DataError(f"Task {task.name!r} has duplicate label names: {task.label_names}.")
        known = set(task.label_names)
        for ex in task.examples:
            if ex.label not in known:
                raise DataError(
                    f"Example {ex.id} of task {task.name!r} has label {ex.label!r}, which is not one of "
                    f"{list(task.label_names)}; fix the data or the label names."
                )

    def strata(self, task: Task, pool: Sequence[Example]) -> list[tuple[str, list[Example]]]:
        # Fixed class order, so that the split's random stream is consumed identically.
        return [(label, [ex for ex in pool if ex.label == label]) for label in task.label_names]


@register_task_type
class MultipleChoice(TaskType):
    """Each example has its own answer choices; the prompt scores each choice at ``{label}``."""

    name = "multiple_choice"
    output = "choice"
    default_metric = "accuracy"

    def check_task(self, task: Task) -> None:
        for ex in task.examples:
            if len(ex.choices) < 2:
                raise DataError(
                    f"Example {ex.id} of multiple-choice task {task.name!r} has {len(ex.choices)} "
                    "choice(s); give at least two per example."
                )
            if ex.label not in ex.choices:
                raise DataError(
                    f"Example {ex.id} of task {task.name!r}: the answer {ex.label!r} is not one of its "
                    f"choices {list(ex.choices)}."
                )


@register_task_type
class Generation(TaskType):
    """Free text judged against one or more references (question answering, rewriting, ...)."""

    name = "generation"
    output = "text"
    default_metric = "exact_match"
    answer_slot = False

    def check_task(self, task: Task) -> None:
        for ex in task.examples:
            if not ex.references:
                raise DataError(
                    f"Example {ex.id} of generation task {task.name!r} has no reference text; give at "
                    "least one per example."
                )
            if any(not r.strip() for r in ex.references):
                raise DataError(
                    f"Example {ex.id} of generation task {task.name!r} has an empty reference; remove it "
                    "or fill it in."
                )

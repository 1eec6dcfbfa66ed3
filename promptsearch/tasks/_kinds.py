"""The task-type interface and its registry (the built-in types are in ``_types``).

Task types: what an example expects, how splits are drawn, and what a prompt produces.

A task type is data-side knowledge only. It declares the kind of prediction its prompts make
(``output``: a class, a choice or a text, see :data:`promptsearch.metrics.KINDS`), and the
scoring layer runs the strategy registered for that kind, as lm-evaluation-harness tasks
declare an ``output_type``. Adding a task type is one subclass plus :func:`register_task_type`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from promptsearch._registry import Registry
from promptsearch.tasks._columns import ColumnOptions

if TYPE_CHECKING:
    from promptsearch.tasks._records import Example, Task

Columns = Mapping[str, Sequence[Any]]
Inputs = list[dict[str, str]]

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

    @abstractmethod
    def answer_columns(self, options: ColumnOptions) -> set[str]:
        """The columns of a data source that hold what is expected (they are not inputs)."""

    @abstractmethod
    def examples_from_columns(
        self, columns: Columns, inputs: Inputs, options: ColumnOptions, source: str
    ) -> tuple[list[Example], tuple[str, ...]]:
        """The examples of a data source (``inputs``: each row's fields) and the label names."""

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

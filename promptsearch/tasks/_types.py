"""The built-in task types: classification, multiple choice and generation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from promptsearch.exceptions import DataError
from promptsearch.metrics import ACCURACY, EXACT_MATCH
from promptsearch.tasks._columns import (
    ColumnOptions,
    as_int,
    as_list,
    is_missing,
    normalize_labels,
    require_column,
    to_text,
)
from promptsearch.tasks._kinds import Columns, Inputs, TaskType, register_task_type
from promptsearch.tasks._records import Example

if TYPE_CHECKING:
    from promptsearch.tasks._records import Task

__all__ = ["Classification", "Generation", "MultipleChoice"]


@register_task_type
class Classification(TaskType):
    """A fixed set of labels, each said with label words after the template (a verbalizer)."""

    name = "classification"
    output = "label"
    default_metric = ACCURACY
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

    def answer_columns(self, options: ColumnOptions) -> set[str]:
        return {options.label_field}

    def examples_from_columns(
        self, columns: Columns, inputs: Inputs, options: ColumnOptions, source: str
    ) -> tuple[list[Example], tuple[str, ...]]:
        if options.label_field not in columns:
            # A generation data set whose reference column is not called "target" lands here too.
            raise DataError(
                f"{source!r} has no label column {options.label_field!r}; columns found: {list(columns)}. "
                "Pass label_field= (--label-field) with the right column; or, for a generation task "
                "(templates without {label}), pass target_field= (--target-field) with the column of "
                "reference texts."
            )
        raw = list(columns[options.label_field])
        for row, value in enumerate(raw):
            if is_missing(value):
                raise DataError(
                    f"Row {row + 1} of {source!r} has an empty label in column {options.label_field!r}; "
                    "remove or label that row."
                )
        labels, names = normalize_labels(raw, options.label_names, source)
        if len(names) == 1:
            raise DataError(
                f"Every row of {source!r} has the label {names[0]!r} (column {options.label_field!r}): "
                "classification needs at least two labels. Add examples of the other classes, or name the "
                "right label column with label_field= (--label-field)."
            )
        return [Example.create(fields, label) for fields, label in zip(inputs, labels)], names


@register_task_type
class MultipleChoice(TaskType):
    """Each example has its own answer choices; the prompt scores each choice at ``{label}``."""

    name = "multiple_choice"
    output = "choice"
    default_metric = ACCURACY

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

    def answer_columns(self, options: ColumnOptions) -> set[str]:
        return {options.label_field, options.choices_field}

    def examples_from_columns(
        self, columns: Columns, inputs: Inputs, options: ColumnOptions, source: str
    ) -> tuple[list[Example], tuple[str, ...]]:
        require_column(columns, options.choices_field, "choices", source, "choices_field=")
        require_column(columns, options.label_field, "answer", source, "label_field= (--label-field)")
        out = []
        for row, (fields, raw, answer) in enumerate(
            zip(inputs, columns[options.choices_field], columns[options.label_field])
        ):
            choices = [to_text(c) for c in as_list(raw) or []]
            if len(choices) < 2:
                raise DataError(
                    f"Row {row + 1} of {source!r}: column {options.choices_field!r} must hold a list of at "
                    f"least two answer choices, got {raw!r}."
                )
            index = as_int(answer)
            label = choices[index] if index is not None and 0 <= index < len(choices) else to_text(answer)
            if label not in choices:
                raise DataError(
                    f"Row {row + 1} of {source!r}: the answer {answer!r} is neither one of the choices "
                    f"{choices} nor an index into them."
                )
            out.append(Example.create(fields, label, choices=choices))
        return out, ()


@register_task_type
class Generation(TaskType):
    """Free text judged against one or more references (question answering, rewriting, ...)."""

    name = "generation"
    output = "text"
    default_metric = EXACT_MATCH
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

    def answer_columns(self, options: ColumnOptions) -> set[str]:
        return {options.target_field}

    def examples_from_columns(
        self, columns: Columns, inputs: Inputs, options: ColumnOptions, source: str
    ) -> tuple[list[Example], tuple[str, ...]]:
        if options.target_field not in columns:
            hint = ""
            if options.label_field in columns:
                hint = (
                    f" It has a label column {options.label_field!r}: for a classification task, give the "
                    "template a {label} slot where the label word goes."
                )
            raise DataError(
                f"{source!r} has no target column {options.target_field!r}; columns found: {list(columns)}. "
                "Pass target_field= (--target-field) with the column of reference texts (one text, or a "
                f"list of them, per row).{hint}"
            )
        out = []
        for row, (fields, raw) in enumerate(zip(inputs, columns[options.target_field])):
            listed = as_list(raw)
            refs = [to_text(r) for r in (listed if listed is not None else [raw]) if not is_missing(r)]
            if not refs:
                raise DataError(
                    f"Row {row + 1} of {source!r} has an empty reference in column {options.target_field!r}; "
                    "give at least one reference text (a list for several) or remove the row."
                )
            out.append(Example.create(fields, references=refs))
        return out, ()

"""Turn columns (name -> values) into a :class:`Task`: field mapping, the task type's answers, checks."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from promptsearch.exceptions import DataError
from promptsearch.tasks._columns import ColumnOptions, TextFields, resolve_text_fields, to_text
from promptsearch.tasks._kinds import task_types
from promptsearch.tasks._records import Example, Task

__all__ = ["ColumnOptions", "TextFields", "build_task", "detect_task_type"]

_logger = logging.getLogger(__name__)


def detect_task_type(columns: Mapping[str, Sequence[Any]], options: ColumnOptions, given: bool) -> str:
    """The task type of a data source without one named: generation when ``target_field`` was
    ``given`` or the source has a target column and no label column, multiple choice when it
    has a choices column, else classification."""
    if given or (options.target_field in columns and options.label_field not in columns):
        return "generation"
    if options.choices_field in columns:
        return "multiple_choice"
    return "classification"


def build_task(
    columns: Mapping[str, Sequence[Any]],
    *,
    source: str,
    text_fields: TextFields,
    label_field: str = "label",
    label_names: Sequence[str] | None = None,
    name: str,
    task_type: str | None = None,
    target_field: str | None = None,
    choices_field: str = "choices",
) -> Task:
    """Turn columns into a :class:`Task`; shared by every loader.

    The task type (``None``: detected, see :func:`detect_task_type`) reads what each example
    expects: a label, a list of choices and the answer, or one or more references.
    """
    found = list(columns)
    n_rows = max((len(v) for v in columns.values()), default=0)
    if n_rows == 0:
        raise DataError(f"{source!r} has no rows (columns found: {found}); give a file with examples.")
    options = ColumnOptions(label_field, label_names, target_field or "target", choices_field)
    kind = task_types.get(task_type or detect_task_type(columns, options, target_field is not None))
    mapping = resolve_text_fields(columns, text_fields, kind.answer_columns(options), source)
    inputs = [{field: to_text(columns[col][row]) for col, field in mapping.items()} for row in range(n_rows)]
    rows, names = kind.examples_from_columns(columns, inputs, options, source)
    examples: dict[str, Example] = {}
    for ex in rows:
        examples.setdefault(ex.id, ex)
    if len(examples) < len(rows):
        _logger.info("Dropped %d duplicate examples from %s.", len(rows) - len(examples), source)
    return Task(
        name=name,
        input_fields=tuple(mapping.values()),
        label_names=names,
        examples=tuple(examples.values()),
        description=f"Loaded from {source}",
        task_type=kind.name,
    )

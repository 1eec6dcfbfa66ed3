"""Turn columns (name -> values) into a :class:`Task`: field mapping, labels, checks."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from promptsearch.exceptions import DataError
from promptsearch.tasks._records import Example, Task

__all__ = ["TextFields", "build_task"]

_logger = logging.getLogger(__name__)

TextFields = Sequence[str] | Mapping[str, str] | None
"""Input columns: ``None`` (guess), column names, or a mapping file column -> field name."""

_DEFAULT_TEXT_COLUMNS = ("text", "sentence")


def build_task(
    columns: Mapping[str, Sequence[Any]],
    *,
    source: str,
    text_fields: TextFields,
    label_field: str,
    label_names: Sequence[str] | None,
    name: str,
) -> Task:
    """Turn columns into a :class:`Task`; shared by every loader."""
    found = list(columns)
    n_rows = max((len(v) for v in columns.values()), default=0)
    if n_rows == 0:
        raise DataError(f"{source!r} has no rows (columns found: {found}); give a file with examples.")
    if label_field not in columns:
        raise DataError(
            f"{source!r} has no label column {label_field!r}; columns found: {found}. "
            "Pass label_field= with the right column."
        )
    mapping = _resolve_text_fields(columns, text_fields, label_field, source)
    raw_labels = list(columns[label_field])
    for row, value in enumerate(raw_labels):
        if _is_missing(value):
            raise DataError(
                f"Row {row + 1} of {source!r} has an empty label in column {label_field!r}; "
                "remove or label that row."
            )
    labels, names = _normalize_labels(raw_labels, label_names, source)
    examples: dict[str, Example] = {}
    for row, label in enumerate(labels):
        inputs = {field: _to_text(columns[col][row]) for col, field in mapping.items()}
        ex = Example.create(inputs, label)
        examples.setdefault(ex.id, ex)
    if len(examples) < len(labels):
        _logger.info("Dropped %d duplicate examples from %s.", len(labels) - len(examples), source)
    return Task(
        name=name,
        input_fields=tuple(mapping.values()),
        label_names=names,
        examples=tuple(examples.values()),
        description=f"Loaded from {source}",
    )


def _resolve_text_fields(
    columns: Mapping[str, Sequence[Any]], text_fields: TextFields, label_field: str, source: str
) -> dict[str, str]:
    found = list(columns)
    if text_fields is None:
        for candidate in _DEFAULT_TEXT_COLUMNS:
            if candidate in columns and candidate != label_field:
                return {candidate: "text"}
        strings = [c for c in found if c != label_field and _is_string_column(columns[c])]
        if len(strings) == 1:
            return {strings[0]: "text"}
        raise DataError(
            f"Cannot tell which column of {source!r} holds the text; columns found: {found}. "
            "Pass text_fields=['column'] or text_fields={'column': 'text'}."
        )
    if isinstance(text_fields, str):
        mapping = {text_fields: text_fields}
    elif isinstance(text_fields, Mapping):
        mapping = dict(text_fields)
    else:
        mapping = {c: c for c in text_fields}
    if not mapping:
        raise DataError("text_fields is empty; name at least one input column.")
    missing = [c for c in mapping if c not in columns]
    if missing:
        raise DataError(f"{source!r} has no column(s) {missing}; columns found: {found}. Fix text_fields.")
    if len(set(mapping.values())) != len(mapping):
        raise DataError(f"text_fields maps two columns to the same field name: {mapping}.")
    return {str(c): str(f) for c, f in mapping.items()}


def _normalize_labels(
    raw: Sequence[Any], label_names: Sequence[str] | None, source: str
) -> tuple[list[str], tuple[str, ...]]:
    as_int = [_as_int(v) for v in raw]
    all_int = all(v is not None for v in as_int)
    labels = [str(v) if all_int else str(r) for v, r in zip(as_int, raw, strict=True)]
    if label_names is None:
        if all_int:
            uniq = sorted({v for v in as_int if v is not None})
            return labels, tuple(str(v) for v in uniq)
        return labels, tuple(sorted(set(labels)))
    names = tuple(str(n) for n in label_names)
    known = set(names)
    if all(lab in known for lab in labels):
        return labels, names
    if all_int and all(v is not None and 0 <= v < len(names) for v in as_int):
        return [names[v] for v in as_int if v is not None], names
    unknown = sorted({lab for lab in labels if lab not in known})[:10]
    raise DataError(
        f"{source!r} has labels {unknown} that are not in label_names {list(names)}; "
        "fix label_names (or give integer labels 0..n-1 to map by position)."
    )


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    return None


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _is_string_column(values: Sequence[Any]) -> bool:
    present = [v for v in values if not _is_missing(v)]
    if not present or not all(isinstance(v, str) for v in present):
        return False
    return any(_as_float(v) is None for v in present)


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _to_text(value: Any) -> str:
    return "" if _is_missing(value) else str(value).strip()

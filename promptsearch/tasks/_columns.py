"""Helpers that read columns (name -> values) of a data source: fields, labels, missing values."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptsearch.exceptions import DataError

__all__ = [
    "ColumnOptions",
    "TextFields",
    "as_int",
    "as_list",
    "is_missing",
    "normalize_labels",
    "require_column",
    "resolve_text_fields",
    "to_text",
]

TextFields = Sequence[str] | Mapping[str, str] | None
"""Input columns: ``None`` (guess), column names, or a mapping file column -> field name."""

_DEFAULT_TEXT_COLUMNS = ("text", "sentence", "question", "input")
#: An integer written as text, perhaps as a float with a zero fraction ("3", "-1", "1.0").
_INTEGRAL = re.compile(r"[+-]?\d{1,18}(\.0*)?\Z")


@dataclass(frozen=True)
class ColumnOptions:
    """Which columns hold what is expected of each example.

    Attributes:
        label_field: Classification: the label; multiple choice: the correct answer (its text
            or its index in the choices).
        label_names: Classification: the labels in class order.
        target_field: Generation: the reference text, or a list of them.
        choices_field: Multiple choice: the list of answer choices.
    """

    label_field: str = "label"
    label_names: Sequence[str] | None = None
    target_field: str = "target"
    choices_field: str = "choices"


def require_column(
    columns: Mapping[str, Sequence[Any]], name: str, what: str, source: str, option: str
) -> None:
    """Raise :class:`DataError` when ``columns`` lacks ``name``."""
    if name not in columns:
        raise DataError(
            f"{source!r} has no {what} column {name!r}; columns found: {list(columns)}. "
            f"Pass {option} with the right column."
        )


def as_list(value: Any) -> list[Any] | None:
    """A list value, or a JSON-encoded list in a string (CSV cells); ``None`` otherwise."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "tolist") and not isinstance(value, str):
        listed = value.tolist()
        return listed if isinstance(listed, list) else None
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, list) else None
    return None


def resolve_text_fields(
    columns: Mapping[str, Sequence[Any]], text_fields: TextFields, answers: set[str], source: str
) -> dict[str, str]:
    """Input column -> field name; ``answers`` are columns that hold expected outputs."""
    found = list(columns)
    if text_fields is None:
        for candidate in _DEFAULT_TEXT_COLUMNS:
            if candidate in columns and candidate not in answers:
                return {candidate: "text"}
        strings = [c for c in found if c not in answers and _is_string_column(columns[c])]
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


def normalize_labels(
    raw: Sequence[Any], label_names: Sequence[str] | None, source: str
) -> tuple[list[str], tuple[str, ...]]:
    ints = [as_int(v) for v in raw]
    all_int = all(v is not None for v in ints)
    # "1" and "1.0" (a CSV column that pandas or a spreadsheet wrote as floats) are one class,
    # and so are "positive" and "positive " (stray spaces).
    labels = [str(v) if all_int else str(r).strip() for v, r in zip(ints, raw, strict=True)]
    if label_names is None:
        if all_int:
            uniq = sorted({v for v in ints if v is not None})
            return labels, tuple(str(v) for v in uniq)
        return labels, tuple(sorted(set(labels)))
    names = tuple(str(n) for n in label_names)
    known = set(names)
    if all(lab in known for lab in labels):
        return labels, names
    if all_int and all(v is not None and 0 <= v < len(names) for v in ints):
        return [names[v] for v in ints if v is not None], names
    unknown = sorted({lab for lab in labels if lab not in known})[:10]
    raise DataError(
        f"{source!r} has labels {unknown} that are not in label_names {list(names)}; "
        "fix label_names (or give integer labels 0..n-1 to map by position)."
    )


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGRAL.match(value.strip()):
        return int(value.strip().split(".")[0])
    return None


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _is_string_column(values: Sequence[Any]) -> bool:
    present = [v for v in values if not is_missing(v)]
    if not present or not all(isinstance(v, str) for v in present):
        return False
    return any(_as_float(v) is None for v in present)


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def to_text(value: Any) -> str:
    return "" if is_missing(value) else str(value).strip()

"""Load a task from a local file or a Hugging Face ``datasets`` source.

Both loaders reduce their source to columns (name -> list of values) and share one builder,
so field mapping, answers and error messages are the same everywhere. File formats are read
by the readers registered in :data:`file_readers` (one per suffix).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptsearch._registry import Registry
from promptsearch.exceptions import DataError
from promptsearch.tasks._build import TextFields, build_task
from promptsearch.tasks._records import Task

__all__ = [
    "FILE_SUFFIXES",
    "TextFields",
    "file_readers",
    "load_file",
    "load_hf_dataset",
    "register_file_reader",
]

_logger = logging.getLogger(__name__)

Columns = dict[str, list[Any]]
FileReader = Callable[[Path], Columns]
"""``reader(path) -> {column: values}``."""

#: File suffix (``".csv"``) -> reader.
file_readers: Registry[FileReader] = Registry("file format")


def register_file_reader(suffix: str, reader: FileReader) -> None:
    """Read files ending in ``suffix`` (e.g. ``".xlsx"``) with ``reader``."""
    file_readers.register(suffix.lower(), reader)


def load_file(
    path: str | Path,
    *,
    text_fields: TextFields = None,
    label_field: str = "label",
    label_names: Sequence[str] | None = None,
    name: str | None = None,
    task_type: str | None = None,
    target_field: str | None = None,
    choices_field: str = "choices",
) -> Task:
    """Load a data set from a CSV, TSV, JSON Lines, JSON or Parquet file.

    Args:
        path: The file; its suffix picks the format.
        text_fields: Input columns. ``None`` uses a column named ``text`` or ``sentence``, or
            the only non-label string column. A sequence keeps the column names as field
            names; a mapping renames (file column -> field name).
        label_field: The column holding the labels (strings or integers).
        label_names: The labels in class order. Defaults to the sorted unique labels (integers
            sorted numerically). Integer labels ``0..n-1`` are mapped to these names by index
            when they are not names themselves.
        name: Task name; defaults to the file stem.
        task_type: ``classification``, ``multiple_choice`` or ``generation``; ``None`` detects
            it: generation with a ``target`` column (or ``target_field``), multiple choice with a
            ``choices`` column, else classification.
        target_field: Generation: the column with the reference text, or a list of them.
        choices_field: Multiple choice: the column with each example's list of choices; the
            label column then holds the correct choice (its text or index).

    Returns:
        The task, with identical examples removed.

    Raises:
        DataError: If the file is missing, empty, of an unknown format, lacks a column, or has
            a row without a label.

    Example:
        >>> task = load_file("reviews.csv", text_fields={"review": "text"})  # doctest: +SKIP
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"Data file {str(path)!r} does not exist; check the path.")
    suffix = path.suffix.lower()
    if suffix not in file_readers:
        raise DataError(
            f"Cannot read {path.name!r}: unknown suffix {suffix!r}. Supported: "
            f"{', '.join(file_readers.registered())}; convert the file or rename it to match its format."
        )
    try:
        columns = file_readers.get(suffix)(path)
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1]
        raise DataError(
            f"{str(path)!r} is not UTF-8 text (byte {exc.start} is {byte!r}); "
            "it was probably saved as Latin-1 or Windows-1252. Re-encode it as UTF-8, e.g. "
            f"`iconv -f cp1252 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`, and load that file."
        ) from None
    except (OSError, ValueError, csv.Error) as exc:
        raise DataError(
            f"Could not read {str(path)!r} as {suffix[1:]}: {exc}. Check the file's format."
        ) from exc
    return build_task(
        columns,
        source=str(path),
        text_fields=text_fields,
        label_field=label_field,
        label_names=label_names,
        name=name or path.name.split(".")[0],
        task_type=task_type,
        target_field=target_field,
        choices_field=choices_field,
    )


def load_hf_dataset(
    name_or_path: str | Path,
    *,
    split: str = "train",
    subset: str | None = None,
    text_fields: TextFields = None,
    label_field: str = "label",
    label_names: Sequence[str] | None = None,
    name: str | None = None,
    task_type: str | None = None,
    target_field: str | None = None,
    choices_field: str = "choices",
) -> Task:
    """Load a task with Hugging Face ``datasets``: a hub name or a ``save_to_disk`` folder.

    Args:
        name_or_path: A hub dataset id (``"rotten_tomatoes"``), a folder written by
            ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``, or a folder of data files.
        split: The split to read.
        subset: The hub configuration name, if the data set has several.
        text_fields: As in :func:`load_file`.
        label_field: As in :func:`load_file`. A ``ClassLabel`` feature gives the label names.
        label_names: As in :func:`load_file`; overrides the ``ClassLabel`` names.
        name: Task name; defaults to the last part of ``name_or_path``.
        task_type, target_field, choices_field: As in :func:`load_file`.

    Raises:
        DataError: If the data set cannot be loaded (e.g. no hub access) or lacks a column.
    """
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a core dependency
        raise DataError("Loading hub data sets needs the `datasets` package: pip install datasets") from exc

    source = str(name_or_path)
    path = Path(source).expanduser()
    try:
        if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
            loaded: Any = datasets.load_from_disk(str(path))
        else:
            loaded = datasets.load_dataset(str(path) if path.is_dir() else source, subset)
    except Exception as exc:  # datasets raises many unrelated types; report them all alike.
        raise DataError(
            f"Could not load data set {source!r} with `datasets` ({type(exc).__name__}: {exc}). "
            "If there is no hub access, use a local file (csv, tsv, jsonl, json, parquet), a "
            "`save_to_disk` folder or a catalog name (see promptsearch.tasks.list_catalog())."
        ) from exc
    if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        if split not in loaded:
            raise DataError(f"Data set {source!r} has no split {split!r}; available: {sorted(loaded)}.")
        loaded = loaded[split]
    if not isinstance(loaded, datasets.Dataset):
        raise DataError(f"Data set {source!r} is a {type(loaded).__name__}; a map-style Dataset is needed.")
    columns: Columns = {col: list(loaded[col]) for col in loaded.column_names}
    feature = loaded.features.get(label_field)
    if label_names is None and isinstance(feature, datasets.ClassLabel):
        label_names = list(feature.names)
    return build_task(
        columns,
        source=source,
        text_fields=text_fields,
        label_field=label_field,
        label_names=label_names,
        name=name or path.name or source,
        task_type=task_type,
        target_field=target_field,
        choices_field=choices_field,
    )


def _read_parquet(path: Path) -> Columns:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return {col: table.column(col).to_pylist() for col in table.column_names}


def _read_delimited(delimiter: str) -> FileReader:
    def read(path: Path) -> Columns:
        reader = csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=delimiter)
        return _rows_to_columns(list(reader), list(reader.fieldnames or []))

    return read


def _read_json(path: Path) -> Columns:
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return _rows_to_columns(_parse_jsonl(text, path))  # JSON Lines named .json
    if isinstance(data, dict):  # {"data": [...]} or columns {"text": [...], "label": [...]}
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(r, dict) for r in lists[0]):
            data = lists[0]
        elif lists and len(lists) == len(data):
            return {str(k): list(v) for k, v in data.items()}
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{str(path)!r} must hold a list of objects (one per example).")
    return _rows_to_columns(data)


def _read_jsonl(path: Path) -> Columns:
    return _rows_to_columns(_parse_jsonl(path.read_text(encoding="utf-8-sig"), path))


def _parse_jsonl(text: str, path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"Line {number} of {str(path)!r} is not valid JSON: {exc}.") from exc
        if not isinstance(obj, dict):
            raise DataError(
                f"Line {number} of {str(path)!r} must be a JSON object, got {type(obj).__name__}."
            )
        rows.append(obj)
    return rows


def _rows_to_columns(rows: Sequence[Mapping[str, Any]], header: Sequence[str] | None = None) -> Columns:
    names = list(header or [])
    for row in rows:  # Keys in order of first appearance: deterministic.
        names.extend(k for k in row if k not in names)
    return {col: [row.get(col) for row in rows] for col in names if col is not None}


register_file_reader(".csv", _read_delimited(","))
register_file_reader(".tsv", _read_delimited("\t"))
register_file_reader(".jsonl", _read_jsonl)
register_file_reader(".json", _read_json)
register_file_reader(".parquet", _read_parquet)
#: The suffixes read out of the box (plugins may add more with :func:`register_file_reader`).
FILE_SUFFIXES = tuple(file_readers.registered())

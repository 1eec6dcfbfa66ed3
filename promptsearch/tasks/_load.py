"""``load_task``: one entry point for catalog names, local files, folders and hub ids."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from promptsearch._registry import suggest
from promptsearch.exceptions import ConfigError, DataError, UnknownNameError
from promptsearch.tasks._catalog import CATALOG, load_catalog_task
from promptsearch.tasks._loaders import file_readers, load_file, load_hf_dataset
from promptsearch.tasks._records import Task

__all__ = ["load_task"]

# A hub dataset id: "name" or "owner/name" with letters, digits, '-', '_' and '.'.
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


def load_task(name_or_path: str | Path, **kwargs: Any) -> Task:
    """Load a task by catalog name, local file, ``save_to_disk`` folder or hub dataset id.

    Resolution order: a catalog name (see :func:`list_catalog`); an existing file
    (:func:`load_file`); an existing folder (:func:`load_hf_dataset`); otherwise a hub id
    (:func:`load_hf_dataset`). A bare name very close to a catalog name is taken as a typo.

    Args:
        name_or_path: What to load.
        **kwargs: Options for :func:`load_file` or :func:`load_hf_dataset` (``text_fields``,
            ``label_field``, ``label_names``, ``task_type``, ``target_field``,
            ``choices_field``, ``name``, ``split``, ``subset``). Catalog tasks take none.

    Raises:
        UnknownNameError: If the name is neither a catalog name, a path nor a plausible hub id.
        DataError: If the source exists but cannot be loaded.

    Example:
        >>> task = load_task("movies")  # doctest: +SKIP
        >>> task.label_names  # doctest: +SKIP
        ('negative', 'positive')
    """
    source = str(name_or_path)
    if isinstance(name_or_path, str) and source in CATALOG:
        if kwargs:
            raise ConfigError(
                f"Catalog task {source!r} takes no loading options (got {sorted(kwargs)}); "
                "load a file with load_file() to control fields and labels."
            )
        return load_catalog_task(source)
    path = Path(source).expanduser()
    if path.is_file():
        return load_file(path, **kwargs)
    if path.is_dir():
        return load_hf_dataset(path, **kwargs)
    catalog = CATALOG.names()
    if path.suffix.lower() in file_readers or source.startswith((".", "/", "~")) or "\\" in source:
        raise DataError(
            f"No file or folder at {source!r}; check the path. Catalog tasks: {', '.join(catalog)}."
        )
    typo = "/" not in source and difflib.get_close_matches(source, catalog, n=1, cutoff=0.8)
    if typo or not _HUB_ID.match(source):
        raise UnknownNameError(
            f"Unknown task {source!r}: not a catalog name, an existing file or folder, or a hub "
            f"dataset id. {suggest(source, catalog)}"
        )
    try:
        return load_hf_dataset(source, **kwargs)
    except DataError as exc:
        raise DataError(f"{exc} {suggest(source, catalog)}") from exc

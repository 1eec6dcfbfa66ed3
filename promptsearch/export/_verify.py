"""What an exported folder may hand to the loaders: its own safetensors and JSON, as exported.

An export may come from someone else. Before tuned weights are loaded, their folder must lie
inside the export folder (``tuning.path`` cannot point at ``/etc`` or ``../..``), hold no file
of a pickle format (loading one can run code), and, for exports that record them, every file
must have the sha256 recorded at export time: a missing or replaced weights file is an error
here, not a fallback to the Hugging Face Hub.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptsearch.exceptions import DataError, ModelError
from promptsearch.export._manifest import PICKLE_SUFFIXES

__all__ = ["file_hashes", "tuning_folder"]


def file_hashes(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder`` (POSIX separators, sorted)."""
    out: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        out[path.relative_to(folder).as_posix()] = digest.hexdigest()
    return out


def tuning_folder(folder: Path, manifest: Mapping[str, Any]) -> Path:
    """The checked folder of an export's tuned weights (see the module docstring).

    Raises:
        DataError: ``tuning.path`` outside the export, a pickle-format file, or a file that is
            not the one exported (a changed sha256, an added or a missing file).
        ModelError: the folder is missing.
    """
    tuning = manifest.get("tuning") or {}
    rel = tuning.get("path", "tuning")
    where = folder / "prompt.json"
    if not isinstance(rel, str) or not rel.strip():
        raise DataError(f"{where}: tuning.path must be a folder name inside the export, got {rel!r}.")
    root = folder.resolve()
    path = (folder / rel).resolve()
    if path != root and root not in path.parents:
        raise DataError(
            f"{where}: tuning.path {rel!r} points outside the export folder; an export's weights live "
            "inside it (tuning/). Export the prompt again."
        )
    if not path.is_dir():
        raise ModelError(f"The exported prompt names tuned weights in {rel!r}, but {str(path)!r} is missing.")
    pickles = sorted(
        p.relative_to(path).as_posix() for p in path.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES
    )
    if pickles:
        raise DataError(
            f"{str(path)!r} holds {pickles}, in a format that may hold pickled objects (loading one can "
            "run code); an export holds safetensors and JSON only. Export the prompt again."
        )
    recorded = tuning.get("files")
    if recorded is None:  # exports made before the hashes were recorded
        if not any(path.rglob("*.safetensors")):
            raise ModelError(f"{str(path)!r} holds no .safetensors weights; export the prompt again.")
        return path
    found = file_hashes(path)
    missing = sorted(set(recorded) - set(found))
    added = sorted(set(found) - set(recorded))
    changed = sorted(k for k in set(found) & set(recorded) if found[k] != recorded[k])
    if missing or added or changed:
        raise DataError(
            f"The tuned weights in {str(path)!r} are not the ones exported (missing {missing}, "
            f"added {added}, changed {changed}); export the prompt again."
        )
    return path

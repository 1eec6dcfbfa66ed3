"""The ``prompt.json`` manifest of an exported prompt: build it, write it, read it back."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from promptsearch.exceptions import ConfigError, DataError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "PICKLE_SUFFIXES",
    "json_ready",
    "package_versions",
    "read_manifest",
    "write_json",
]

FORMAT = "promptsearch-prompt"
FORMAT_VERSION = 1
MANIFEST_NAME = "prompt.json"
#: Suffixes of files that may hold pickled Python objects; an export never contains them.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".npy", ".npz")
_PACKAGES = ("promptsearch", "torch", "transformers", "optuna", "peft", "tokenizers", "numpy")


def package_versions() -> dict[str, str]:
    """Versions of the packages that affect scores; packages not installed are left out.

    Example:
        >>> "promptsearch" in package_versions()
        True
    """
    out: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "promptsearch":  # running from a source tree that is not installed
                from promptsearch._version import __version__

                out[name] = __version__
    return out


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def json_ready(value: Any, what: str) -> Any:
    """Return ``value`` with numpy scalars and arrays turned into plain JSON values.

    Raises:
        ConfigError: if something in ``value`` has no JSON form.
    """

    def default(obj: Any) -> Any:
        if hasattr(obj, "tolist"):  # numpy scalars and arrays
            return obj.tolist()
        if isinstance(obj, (set, frozenset, tuple)):
            return list(obj)
        raise TypeError(type(obj).__name__)

    try:
        return json.loads(json.dumps(value, default=default, allow_nan=True))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"The {what} cannot be written as JSON ({exc}); give numbers, strings, lists and dicts only."
        ) from None


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented UTF-8 JSON, atomically (a temporary file, then a rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read and check the manifest of an exported prompt folder (no model is loaded).

    Raises:
        DataError: if the folder or its ``prompt.json`` is missing, not JSON, or not a manifest
            this version of promptsearch can read.

    Example:
        >>> manifest = read_manifest("exports/movies")  # doctest: +SKIP
        >>> manifest["labels"]  # doctest: +SKIP
        ['negative', 'positive']
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        hint = " It is a file; pass the folder that contains prompt.json." if path.exists() else ""
        raise DataError(
            f"No exported prompt folder at {str(path)!r}.{hint} Export one with save_prompt(...) or "
            "`promptsearch search ... --export DIR`."
        )
    file = path / MANIFEST_NAME
    if not file.is_file():
        raise DataError(
            f"{str(path)!r} has no {MANIFEST_NAME}; it is not an exported prompt folder. Pass the folder "
            "written by save_prompt or export_search."
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{file} is not valid JSON ({exc}); export the prompt again.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f'{file} is not a promptsearch prompt manifest (no "format": {FORMAT!r}).')
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataError(
            f"{file} has format version {version!r}; this promptsearch reads version {FORMAT_VERSION} "
            "and older. Upgrade promptsearch to load it."
        )
    for key in ("prompt", "model", "labels", "input_fields", "tuning"):
        if key not in data:
            raise DataError(f"{file} lacks the {key!r} entry; export the prompt again.")
    _check_entries(data, file)
    return data


def _check_entries(data: Mapping[str, Any], file: Path) -> None:
    """The entries a hand-edited manifest may get wrong, each with the fix."""

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    if not isinstance(data["model"], Mapping) or not isinstance(data["tuning"], Mapping):
        raise DataError(f'{file}: "model" and "tuning" must be objects; export the prompt again.')
    generation = data.get("generation")
    if generation is not None:
        if not isinstance(generation, Mapping):
            raise DataError(f'{file}: "generation" must be an object or null; export the prompt again.')
        tokens, stop = generation.get("max_new_tokens"), generation.get("stop")
        if tokens is not None and not whole(tokens):
            raise DataError(
                f"{file}: generation.max_new_tokens must be a whole number >= 1, got {tokens!r}; fix it "
                "or export the prompt again."
            )
        if stop is not None and (
            not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop)
        ):
            raise DataError(f"{file}: generation.stop must be a list of non-empty strings, got {stop!r}.")
    max_words = data.get("max_words")
    if max_words is not None and not whole(max_words):
        raise DataError(f"{file}: max_words must be a whole number >= 1 or null, got {max_words!r}.")

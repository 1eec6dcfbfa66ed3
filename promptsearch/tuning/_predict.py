"""The export hook: the backend of a prompt exported with a tuning artifact."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ModelError
from promptsearch.tuning._modes import NO_TUNING, tuning_modes

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend
    from promptsearch.models import LoadedModel

__all__ = ["load_for_prediction"]


def load_for_prediction(
    loaded: LoadedModel, folder: str | Path, manifest: Mapping[str, Any], batch_size: int | None = None
) -> LMBackend:
    """The backend for an exported prompt folder, by the tuning mode its manifest names.

    ``none`` (a plain text prompt) is the ordinary backend of ``loaded``. Soft prompts
    (``prompt_tuning``, ``bbt``) load into a soft-prompt backend on ``loaded``; ``lora`` and
    ``full`` load the tuned weights onto a copy of ``loaded``.
    """
    tuning = manifest.get("tuning") or {}
    mode = tuning_modes.get(str(tuning.get("mode", NO_TUNING)))
    if mode.name == NO_TUNING:  # nothing saved with it
        return mode.load(loaded, Path(folder), batch_size)
    path = Path(folder) / str(tuning.get("path", "tuning"))
    if not path.is_dir():
        raise ModelError(f"The exported prompt names tuning mode {mode.name!r} but {str(path)!r} is missing.")
    return mode.load(loaded, path, batch_size)

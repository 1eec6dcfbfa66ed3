"""The export hook: the scorer of a prompt exported with a tuning artifact."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ModelError

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel
    from promptsearch.scoring import BaseScorer

__all__ = ["load_for_prediction"]


def load_for_prediction(loaded: LoadedModel, folder: str | Path, manifest: dict[str, Any]) -> BaseScorer:
    """Return the scorer for an exported prompt folder whose manifest names a tuning mode.

    Soft prompts (``prompt_tuning``, ``bbt``) load into a soft-prompt scorer on ``loaded``;
    ``lora`` and ``full`` load the tuned weights onto a copy of ``loaded``.
    """
    from promptsearch.search._tuning import load_tuned_scorer

    tuning = manifest.get("tuning") or {}
    mode = str(tuning.get("mode", "none"))
    path = Path(folder) / str(tuning.get("path", "tuning"))
    if not path.is_dir():
        raise ModelError(f"The exported prompt names tuning mode {mode!r} but {str(path)!r} is missing.")
    return load_tuned_scorer(loaded, mode, path)

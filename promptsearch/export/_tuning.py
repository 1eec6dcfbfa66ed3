"""Hook for tuned prompts: what a tuning artifact saves, and how a prediction scorer is rebuilt.

An exported prompt folder records ``"tuning": {"mode": "none"}`` for a plain text prompt, or
``{"mode": "prompt_tuning" | "bbt" | "lora" | "full", "path": "tuning/"}`` when trained weights
go with it. At load time :data:`tuning_loaders` maps the mode to a function
``loader(loaded_model, folder, manifest) -> BaseScorer``. The trained modes point lazily at
``promptsearch.tuning:load_for_prediction``, so that peft is imported only for tuned prompts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from promptsearch._registry import Registry
from promptsearch.exceptions import ModelError, UnknownNameError

if TYPE_CHECKING:
    from promptsearch.models import LoadedModel
    from promptsearch.scoring import BaseScorer

__all__ = [
    "TUNED_MODES", "TUNING_DIR", "TuningArtifact", "TuningLoader", "get_tuning_loader", "tuning_loaders",
]

TUNING_DIR = "tuning"
#: Modes whose trained weights live in ``<folder>/tuning/``.
TUNED_MODES = ("prompt_tuning", "bbt", "lora", "full")

TuningLoader = Callable[["LoadedModel", Path, Mapping[str, Any]], "BaseScorer"]


@runtime_checkable
class TuningArtifact(Protocol):
    """Trained weights that belong to a prompt (soft prompt, LoRA adapter, fine-tuned model).

    ``promptsearch.tuning`` implements it; the export package only calls :meth:`save`, so
    neither package imports the other at module level.

    Attributes:
        mode: ``"prompt_tuning"``, ``"bbt"``, ``"lora"`` or ``"full"``.

    Example:
        >>> class Adapter:
        ...     mode = "lora"
        ...     def save(self, folder: Path) -> None:
        ...         ...  # peft_model.save_pretrained(folder, safe_serialization=True)
        >>> isinstance(Adapter(), TuningArtifact)
        True
    """

    mode: str

    def save(self, folder: Path) -> object:
        """Write the weights into ``folder`` (it exists and is empty) as safetensors and JSON only.

        The return value is ignored (tuning results may return the folder).
        """


def _load_plain(loaded: LoadedModel, folder: Path, manifest: Mapping[str, Any]) -> BaseScorer:
    """The scorer of an untuned prompt: the ordinary one for the model's kind."""
    from promptsearch.scoring import make_scorer

    return make_scorer(loaded)


tuning_loaders: Registry[TuningLoader] = Registry("tuning mode")
tuning_loaders.register("none", _load_plain)
for _mode in TUNED_MODES:
    tuning_loaders.register(_mode, "promptsearch.tuning:load_for_prediction")


def get_tuning_loader(mode: str) -> TuningLoader:
    """Return the loader registered for ``mode``, importing it on first use.

    Raises:
        ModelError: if the mode's loader cannot be imported (peft or promptsearch.tuning missing).
        UnknownNameError: for a mode nobody registered (a newer export format?).
    """
    try:
        return tuning_loaders.get(mode)
    except UnknownNameError as exc:
        raise UnknownNameError(
            f"{exc} The prompt was exported by a newer promptsearch, or a plugin that registers this "
            "mode is not imported; upgrade promptsearch or register a loader in tuning_loaders."
        ) from None
    except (ImportError, AttributeError) as exc:
        raise ModelError(
            f"This prompt was tuned with mode {mode!r}; its weights are in the folder's {TUNING_DIR}/ and "
            f"loading them needs promptsearch.tuning with peft (pip install 'promptsearch[peft]'). ({exc})"
        ) from exc

"""Hook for tuned prompts: what a tuning artifact saves, and how its backend is rebuilt.

An exported prompt folder records ``"tuning": {"mode": "none"}`` for a plain text prompt, or
``{"mode": NAME, "path": "tuning/"}`` when trained weights go with it. At load time the mode's
entry in :data:`promptsearch.tuning.tuning_modes` rebuilds the backend; importing
``promptsearch.tuning`` does not import peft, which loads only for tuned prompts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from promptsearch.exceptions import UnknownNameError
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend
    from promptsearch.models import LoadedModel

__all__ = ["TUNING_DIR", "TuningArtifact", "TuningLoader", "get_tuning_loader", "tuned_modes"]

TUNING_DIR = "tuning"

TuningLoader = Callable[["LoadedModel", Path, Mapping[str, Any], "int | None"], "LMBackend"]


@runtime_checkable
class TuningArtifact(Protocol):
    """Trained weights that belong to a prompt (soft prompt, LoRA adapter, fine-tuned model).

    ``promptsearch.tuning`` implements it; the export package only calls :meth:`save`.

    Attributes:
        mode: A registered tuning mode (``prompt_tuning``, ``bbt``, ``lora``, ``full``, ...).

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


def tuned_modes() -> tuple[str, ...]:
    """Names of the registered tuning modes (whose weights live in ``<folder>/tuning/``)."""
    from promptsearch.tuning import tuning_modes

    return tuple(m for m in tuning_modes.registered() if m != NO_TUNING)


def get_tuning_loader(mode: str) -> TuningLoader:
    """``loader(model, folder, manifest, batch_size) -> backend`` for prompts exported with ``mode``.

    Raises:
        UnknownNameError: for a mode nobody registered (a newer export format, or a plugin that
            is not imported).
    """
    from promptsearch.tuning import load_for_prediction, tuning_modes

    try:
        tuning_modes.get(mode)
    except UnknownNameError as exc:
        raise UnknownNameError(
            f"{exc} The prompt was exported by a newer promptsearch, or a plugin that registers this "
            "mode is not imported; upgrade promptsearch or import the plugin."
        ) from None
    return load_for_prediction

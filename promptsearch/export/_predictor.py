"""Load an exported prompt folder and predict with it: labels, answer choices or generated text."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from promptsearch.exceptions import DataError, ModelError
from promptsearch.export._manifest import read_manifest
from promptsearch.export._tuning import get_tuning_loader
from promptsearch.export._verify import tuning_folder
from promptsearch.tasks import Example
from promptsearch.templates import Prompt, prompt_fields
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend
    from promptsearch.models import LoadedModel
    from promptsearch.scoring import OutputStrategy
    from promptsearch.tasks import Task

__all__ = ["PromptPredictor", "load_prompt", "to_examples"]

_logger = logging.getLogger(__name__)

Inputs = Sequence[str] | Sequence[Mapping[str, Any]]


def to_examples(inputs: Inputs, fields: Sequence[str], *, choices: bool = False) -> list[Example]:
    """Turn texts (single-field prompts) or records with ``fields`` into unlabelled examples.

    With ``choices`` (multiple-choice prompts) every record also needs a ``"choices"`` list.

    Raises:
        DataError: naming the first input that is neither a text nor a record with every field.
    """
    if isinstance(inputs, (str, bytes, Mapping)):
        raise DataError("Pass a list of inputs, e.g. predict([text]) or predict([{...}]), not a single one.")
    out: list[Example] = []
    for i, item in enumerate(inputs):
        if isinstance(item, str):
            if len(fields) != 1:
                raise DataError(
                    f"Input {i} is a text, but the prompt reads the fields {list(fields)}; pass records "
                    f"(dicts) with these keys instead."
                )
            record: dict[str, str] = {fields[0]: item}
        elif isinstance(item, Mapping):
            missing = [f for f in fields if f not in item]
            if missing:
                raise DataError(
                    f"Input {i} lacks the field(s) {missing}; every record needs {list(fields)} "
                    f"(it has {sorted(map(str, item))})."
                )
            record = {f: "" if item[f] is None else str(item[f]) for f in fields}
        else:
            raise DataError(f"Input {i} is a {type(item).__name__}; give a text or a dict of input fields.")
        options: list[str] = []
        if choices:
            raw = item.get("choices") if isinstance(item, Mapping) else None
            if not isinstance(raw, (list, tuple)) or len(raw) < 2:
                raise DataError(
                    f'Input {i} needs a "choices" list of at least two answers: this prompt picks one of '
                    "each input's own choices."
                )
            options = [str(c) for c in raw]
        out.append(Example.create(record, "", choices=options))
    return out


class PromptPredictor:
    """An exported prompt bound to its model: ``predict`` texts or records into label names,
    chosen answers (multiple choice) or generated texts (generation).

    Built by :func:`load_prompt`. Predictions are batched by the backend, long inputs are
    truncated as during the search, and the same folder always gives the same outputs.

    Example:
        >>> predictor = load_prompt("exports/movies")  # doctest: +SKIP
        >>> predictor.predict(["A gripping film.", "Dull and far too long."])  # doctest: +SKIP
        ['positive', 'negative']
    """

    def __init__(self, prompt: Prompt, scorer: LMBackend, manifest: Mapping[str, Any], folder: Path) -> None:
        self._prompt = prompt
        self.scorer = scorer
        self.folder = folder
        self._manifest = dict(manifest)

    @property
    def task_type(self) -> str:
        """``classification``, ``multiple_choice``, ``generation`` (or a plugin's task type)."""
        return str((self._manifest.get("task") or {}).get("task_type", "classification"))

    @property
    def output(self) -> OutputStrategy:
        """The prediction strategy of the task type (what :meth:`predict` returns)."""
        from promptsearch.scoring import outputs
        from promptsearch.tasks import task_types

        return outputs.get(task_types.get(self.task_type).output)

    def _task(self) -> Task:
        from promptsearch.tasks import Task

        generation = self._manifest.get("generation") or {}
        stop = generation.get("stop")
        return Task(
            str((self._manifest.get("task") or {}).get("name", "exported")),
            self.input_fields,
            self.labels,
            (),
            task_type=self.task_type,
            max_new_tokens=generation.get("max_new_tokens"),  # as during the search
            stop=tuple(stop) if stop is not None else None,
        )

    def _examples(self, inputs: Inputs) -> list[Example]:
        examples = to_examples(inputs, self.input_fields, choices=self.output.kind == "choice")
        max_words = self._manifest.get("max_words")
        return [ex.shorten(int(max_words)) for ex in examples] if max_words else examples

    @property
    def prompt(self) -> Prompt:
        """The exported prompt."""
        return self._prompt

    @property
    def labels(self) -> tuple[str, ...]:
        """Label names, in the column order of :meth:`predict_proba` (empty without labels)."""
        return tuple(self._prompt.verbalizer.labels) if self._prompt.verbalizer is not None else ()

    @property
    def input_fields(self) -> tuple[str, ...]:
        """The fields each input record must have (those the template reads)."""
        return prompt_fields(self._prompt)

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the folder's manifest (model, task, metrics, versions, tuning)."""
        return copy.deepcopy(self._manifest)

    @property
    def model(self) -> Any:
        """The model the predictions come from (a ``LoadedModel`` for the ``hf`` backend)."""
        return getattr(self.scorer, "loaded", None) or self.scorer

    def predict_proba(self, inputs: Inputs, *, progress: Callable[[int], None] | None = None) -> Any:
        """Probabilities over :attr:`labels`, shape ``(len(inputs), len(labels))``; for a
        multiple-choice prompt, one array over each input's choices.

        Calibrated when the prompt uses contextual calibration. ``progress`` is called with the
        number of inputs scored after each batch.

        Raises:
            ConfigError: for a generation prompt (it has no probabilities over answers).
        """
        from promptsearch.exceptions import ConfigError
        from promptsearch.scoring import predict, softmax

        if not self.output.has_scores:
            raise ConfigError(f"A {self.task_type} prompt has no probabilities over answers; use predict().")
        examples = self._examples(inputs)
        if not examples:
            return np.zeros((0, len(self.labels)))
        out = predict(self.scorer, self._prompt, self._task(), examples, progress=progress)
        if self.labels:
            return softmax(np.stack(out.scores))
        return [softmax(s) for s in out.scores]

    def predict(self, inputs: Inputs, *, progress: Callable[[int], None] | None = None) -> list[str]:
        """Each input's most probable label name, chosen answer, or generated text."""
        from promptsearch.scoring import predict

        examples = self._examples(inputs)
        if not examples:
            return []
        out = predict(self.scorer, self._prompt, self._task(), examples, progress=progress)
        return self.output.answers(out, examples, self.labels)

    def __repr__(self) -> str:
        return (
            f"PromptPredictor({str(self.folder)!r}, model={self.scorer.name!r}, task_type={self.task_type!r})"
        )


def load_prompt(
    folder: str | Path,
    *,
    model: str | Path | LoadedModel | None = None,
    device: str = "auto",
    dtype: str | None = None,
    batch_size: int | None = None,
    backend: str | None = None,
    backend_options: Mapping[str, Any] | None = None,
) -> PromptPredictor:
    """Load an exported prompt folder and its model, ready to predict.

    Args:
        folder: A folder written by :func:`save_prompt` or :func:`export_search`.
        model: Use this model instead of the recorded one (a catalog name, folder, hub id or
            loaded model), e.g. when the recorded local folder moved.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        dtype: Default: the dtype recorded at export (the search's scores), else ``"auto"``.
        batch_size: Sequences per forward pass (default: the backend's).
        backend: The backend that runs the model (default: the one recorded, else ``hf``).
        backend_options: Options of a backend other than ``hf`` (``base_url`` for ``openai``:
            a server's address is not recorded at export).

    Raises:
        DataError: if the folder is not an exported prompt.
        ModelError: if the model or the tuned weights cannot be loaded.

    Example:
        >>> predictor = load_prompt("exports/movies", device="cpu")  # doctest: +SKIP
        >>> predictor.predict_proba(["A gripping film."]).shape  # doctest: +SKIP
        (1, 2)
    """
    from promptsearch.backends import DEFAULT_BACKEND, LMBackend, load_backend
    from promptsearch.models import LoadedModel, load_model, resolve_device

    path = Path(folder).expanduser()
    manifest = read_manifest(path)
    backend_name = backend or str(manifest["model"].get("backend") or DEFAULT_BACKEND)
    mode = str(manifest["tuning"].get("mode", NO_TUNING))
    try:
        prompt = Prompt.from_dict(manifest["prompt"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"The prompt in {path / 'prompt.json'} is malformed ({exc!r}); export it again."
        ) from None
    if prompt.id != manifest.get("prompt_id"):
        _logger.warning("The prompt in %s was edited after export (its id changed).", path)
    recorded = manifest["model"]
    if isinstance(model, LMBackend) or (backend_name != DEFAULT_BACKEND and mode == NO_TUNING):
        spec_name = model if model is not None else str(recorded["id"])
        lm = load_backend(backend_name, spec_name, batch_size=batch_size, **dict(backend_options or {}))
        return PromptPredictor(prompt, lm, manifest, path)
    if model is None:
        spec: str | Path | LoadedModel = str(recorded["id"])
        kind = recorded.get("kind")
        wanted_dtype = dtype or recorded.get("dtype") or "auto"
        if wanted_dtype == "float16" and dtype is None and resolve_device(device) == "cpu":
            wanted_dtype = "float32"  # many CPU kernels lack float16
    else:
        spec, kind, wanted_dtype = model, None, dtype or "auto"
    try:
        loaded = load_model(spec, kind=kind, device=device, dtype=wanted_dtype)
    except ModelError as exc:
        if model is not None or isinstance(spec, LoadedModel):
            raise
        raise ModelError(
            f"{exc}\nThis prompt was exported for model {recorded['id']!r}; pass model=... (--model) to load "
            "another copy of it."
        ) from exc
    if recorded.get("kind") and loaded.kind.value != recorded["kind"]:
        _logger.warning(
            "The prompt was found with a %s model; %s is %s.",
            recorded["kind"],
            loaded.name,
            loaded.kind.value,
        )
    if mode != NO_TUNING:
        tuning_folder(path, manifest)  # inside the export, no pickle, the files exported
    scorer = get_tuning_loader(mode)(loaded, path, manifest, batch_size)
    if batch_size is not None:
        scorer.batch_size = batch_size
    return PromptPredictor(prompt, scorer, manifest, path)

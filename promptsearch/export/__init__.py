"""Export a prompt with its model reference, and predict with it later.

An exported prompt is a folder with ``prompt.json`` (the manifest: prompt, model id, labels,
input fields, metrics, package versions, tuning mode), a ``README.md`` card, and for tuned
prompts a ``tuning/`` folder of safetensors and JSON weights. Nothing is pickled.

Example:
    >>> from promptsearch.export import load_prompt, save_prompt
    >>> save_prompt("exports/movies", prompt, model="smollm2-135m-instruct", task=task)  # doctest: +SKIP
    >>> load_prompt("exports/movies").predict(["A gripping film."])  # doctest: +SKIP
    ['positive']
"""

from promptsearch.export._card import render_card
from promptsearch.export._manifest import FORMAT_VERSION, MANIFEST_NAME, package_versions, read_manifest
from promptsearch.export._predictor import PromptPredictor, load_prompt, to_examples
from promptsearch.export._save import build_manifest, export_search, save_prompt
from promptsearch.export._tuning import TuningArtifact, TuningLoader, get_tuning_loader, tuned_modes

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "PromptPredictor",
    "TuningArtifact",
    "TuningLoader",
    "build_manifest",
    "export_search",
    "get_tuning_loader",
    "load_prompt",
    "package_versions",
    "read_manifest",
    "render_card",
    "save_prompt",
    "to_examples",
    "tuned_modes",
]

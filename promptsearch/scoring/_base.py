"""Compatibility names: scorers are language-model backends (:mod:`promptsearch.backends`)."""

from __future__ import annotations

from typing import Any

from promptsearch.backends import LMBackend, ProgressCallback, length_batches

__all__ = ["ProgressCallback", "length_batches", "make_scorer"]


def make_scorer(model: Any, *, batch_size: int | None = None, **kwargs: Any) -> LMBackend:
    """The Hugging Face backend for a loaded model (or any backend, returned as is).

    Example:
        >>> scorer = make_scorer(load_model("smollm2-135m-instruct"))  # doctest: +SKIP
    """
    from promptsearch.backends import LMBackend, hf_backend

    if isinstance(model, LMBackend):
        return model
    return hf_backend(model, batch_size=batch_size, **kwargs)

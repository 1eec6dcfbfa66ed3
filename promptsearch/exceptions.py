"""Exceptions raised by promptsearch.

Every error the library raises on purpose derives from :class:`PromptSearchError`, so that a
caller can catch them all at once. Each message says what was wrong and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "FetchError",
    "ModelError",
    "PromptSearchError",
    "SearchInterrupted",
    "ServerError",
    "StudyMismatchError",
    "TemplateError",
    "UnknownNameError",
    "VerbalizerError",
]


class PromptSearchError(Exception):
    """Base class of every error raised by promptsearch."""


class ConfigError(PromptSearchError, ValueError):
    """A configuration value (argument, YAML key, option) is invalid."""


class TemplateError(PromptSearchError, ValueError):
    """A template could not be parsed or does not fit the task."""


class VerbalizerError(PromptSearchError, ValueError):
    """A verbalizer does not map every label of the task to at least one word."""


class DataError(PromptSearchError, ValueError):
    """A data set or split is missing, empty or malformed."""


class ModelError(PromptSearchError, RuntimeError):
    """A model could not be loaded or does not support the requested operation."""


class ServerError(ModelError):
    """A model server (OpenAI-compatible HTTP) could not be reached or refused a request.

    Attributes:
        status: The HTTP status of the refusal (``None`` when no answer came).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnknownNameError(PromptSearchError, KeyError):
    """A name was looked up in a registry or catalog that does not contain it."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class FetchError(PromptSearchError, RuntimeError):
    """A packaged artifact could not be downloaded or failed its checksum."""


class SearchInterrupted(PromptSearchError):
    """A search stopped on request (SIGINT, SIGTERM) after its current trial; run it again to resume."""


class StudyMismatchError(ConfigError):
    """A study in the storage was made for another task, space, model, metric or split."""

"""Limits on input from anyone, each raisable by an environment variable named in its error."""

from __future__ import annotations

import os

from promptsearch.exceptions import ConfigError, PromptSearchError

__all__ = ["MAX_DEMONSTRATIONS", "env_limit", "max_demonstrations"]

#: Demonstrations per prompt (``PROMPTSEARCH_MAX_DEMONSTRATIONS`` raises it): beyond this,
#: prompts outgrow small models' context windows.
MAX_DEMONSTRATIONS = 8


def env_limit(name: str, default: int, error: type[PromptSearchError] = ConfigError) -> int:
    """The value of the environment variable ``name`` (a positive whole number), else ``default``.

    Raises:
        error: when the variable is set to anything but a positive whole number.

    Example:
        >>> env_limit("PROMPTSEARCH_NO_SUCH_LIMIT", 512)
        512
    """
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or int(raw) < 1:
        raise error(f"{name}={raw!r} must be a positive whole number.")
    return int(raw)


def max_demonstrations() -> int:
    """:data:`MAX_DEMONSTRATIONS`, or the value of ``PROMPTSEARCH_MAX_DEMONSTRATIONS``."""
    return env_limit("PROMPTSEARCH_MAX_DEMONSTRATIONS", MAX_DEMONSTRATIONS)

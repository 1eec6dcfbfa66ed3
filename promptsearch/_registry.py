"""A small name -> object registry with "did you mean" suggestions and lazy entries."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from promptsearch.exceptions import UnknownNameError

T = TypeVar("T")

__all__ = ["Registry", "suggest"]


def suggest(name: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """Return a sentence suggesting the closest names to ``name``, or listing all choices."""
    close = difflib.get_close_matches(name, sorted(choices), n=3, cutoff=0.5)
    if close:
        return "Did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "Available: " + ", ".join(sorted(choices)) + "."


class Registry(Generic[T]):
    """Maps names to objects; entries may be ``"module:attr"`` strings imported on first use.

    Example:
        >>> reg: Registry[int] = Registry("number")
        >>> reg.register("one", 1)
        >>> reg.get("one")
        1
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, obj: T | str, *, overwrite: bool = False) -> None:
        """Register ``obj`` (or a lazy ``"module:attr"`` path) under ``name``."""
        if name in self._entries and not overwrite:
            raise ValueError(f"A {self.kind} named {name!r} is already registered.")
        self._entries[name] = obj

    def decorator(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its target under ``name``."""

        def wrap(obj: T) -> T:
            self.register(name, obj)
            return obj

        return wrap

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names suggest close ones.

        A name not registered yet is looked for in the plugins (see :mod:`promptsearch._plugins`)
        before it is called unknown.
        """
        if name not in self._entries:
            _load_plugins()
        try:
            entry = self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}. {suggest(name, list(self._entries))}"
            ) from None
        if isinstance(entry, str) and ":" in entry:
            module, _, attr = entry.partition(":")
            loaded: T = getattr(importlib.import_module(module), attr)
            self._entries[name] = loaded
            return loaded
        return entry  # type: ignore[return-value]

    def names(self) -> list[str]:
        """Return the registered names (the plugins' included), sorted."""
        _load_plugins()
        return sorted(self._entries)

    def registered(self) -> list[str]:
        """Return the registered names (the plugins' included) in registration order."""
        _load_plugins()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            _load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _load_plugins() -> None:
    from promptsearch._plugins import load_plugins

    load_plugins()

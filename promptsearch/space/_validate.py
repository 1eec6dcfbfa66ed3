"""Type-driven validation for the search-space dataclasses in :mod:`promptsearch.space._space`.

Every section is a frozen dataclass deriving from :class:`Section`. Its ``__post_init__`` calls
:meth:`Section._normalize`, which checks each field against its type hint and converts YAML-ish
values (lists, nested mappings, strings for tasks and seeds) into their frozen form. So a space
built in Python and one loaded from YAML go through exactly the same checks, and every error
names the dotted path of the bad value (``templates.grammar.connector``).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from promptsearch._registry import suggest
from promptsearch.exceptions import ConfigError

__all__ = ["FrozenMapping", "Section", "at_least", "build", "coerce", "distinct", "freeze", "join", "thaw"]

_S = TypeVar("_S", bound="Section")
_HINTS: dict[type, dict[str, Any]] = {}  # Resolved type hints per section class.


class FrozenMapping(Mapping[str, Any]):
    """An immutable, hashable mapping (insertion order kept) for option dictionaries."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"


def freeze(value: Any) -> Any:
    """Return ``value`` with lists turned into tuples and mappings into :class:`FrozenMapping`."""
    if isinstance(value, Mapping):
        return FrozenMapping({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`: plain dicts and lists, ready for ``yaml.safe_dump``."""
    if isinstance(value, Section):
        return value._to_value()
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def join(path: str, key: object) -> str:
    """Return the dotted path of ``key`` below ``path``."""
    return f"{path}.{key}" if path else str(key)


class Section:
    """Base of the search-space dataclasses: field checks, ``to_dict`` and ``from_dict``.

    ``_section`` is the dotted path where the section lives in a search-space file; errors
    use it. Sections without a fixed place (list items) set it to ``None``; :func:`build`
    prefixes their errors with the item's path.
    """

    _section: ClassVar[str | None] = None
    _accepts_str: ClassVar[bool] = False  # True if a plain string is a shorthand for the section.

    def _normalize(self) -> None:
        """Check every field against its type hint and store its frozen form."""
        hints = _hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = coerce(getattr(self, f.name), hints[f.name], join(self._section or "", f.name))
            object.__setattr__(self, f.name, value)

    def _fail(self, name: str, message: str) -> ConfigError:
        """Return a :class:`ConfigError` about field ``name`` of this section."""
        return ConfigError(f"{join(self._section or '', name)}: {message}")

    def to_dict(self) -> dict[str, Any]:
        """Return the section as plain data (dicts, lists, scalars) that ``from_dict`` accepts."""
        return {f.name: thaw(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def _to_value(self) -> Any:
        """The value written for this section when it is nested in another one."""
        return self.to_dict()

    @classmethod
    def from_dict(cls: type[_S], data: Mapping[str, Any]) -> _S:
        """Build the section from plain data; unknown keys and wrong types raise ConfigError."""
        return build(cls, data, cls._section or "")

    @classmethod
    def _from_value(cls: type[_S], value: Any, path: str) -> _S:
        """Build the section from a YAML value (a mapping unless overridden)."""
        return build(cls, value, path)


def _hints(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] | None = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    return hints


def build(cls: type[_S], data: Any, path: str) -> _S:
    """Build dataclass ``cls`` from mapping ``data`` found at ``path``, strictly.

    Raises:
        ConfigError: for a non-mapping, an unknown key (with a "did you mean"), a missing
            required key, or any error of the section's own checks.
    """
    if not isinstance(data, Mapping):
        raise type_error(path, cls, data)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            raise ConfigError(f"{join(path, key)}: unknown key. {suggest(str(key), list(known))}")
    for name, f in known.items():
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{join(path, name)}: required key is missing.")
    try:
        return cls(**data)
    except ConfigError as exc:
        if cls._section is None:  # A list item: its messages start with a field name.
            raise ConfigError(f"{path}.{exc}") from None
        raise


def coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against type ``tp`` and return its frozen form; errors name ``path``."""
    origin = get_origin(tp)
    if tp is Any:
        return freeze(value)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None) and _fits(value, option):
                return coerce(value, option, path)
        raise type_error(path, tp, value)
    if origin is Literal:
        choices = get_args(tp)
        if value in choices and type(value) is type(choices[0]):
            return value
        if isinstance(value, str):
            raise ConfigError(f"{path}: unknown value {value!r}. {suggest(value, [str(c) for c in choices])}")
        raise type_error(path, tp, value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise type_error(path, tp, value)
        return tuple(coerce(v, get_args(tp)[0], f"{path}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, Mapping):
            raise type_error(path, tp, value)
        value_type = get_args(tp)[1]
        bad_keys = [k for k in value if not isinstance(k, str)]
        if bad_keys:
            raise ConfigError(f"{path}: keys must be strings, got {bad_keys[0]!r}; quote it in YAML.")
        return FrozenMapping({k: coerce(v, value_type, join(path, k)) for k, v in value.items()})
    if isinstance(tp, type) and issubclass(tp, Section):
        return value if isinstance(value, tp) else tp._from_value(value, path)
    if not _fits(value, tp):
        raise type_error(path, tp, value)
    return float(value) if tp is float else value


def _fits(value: Any, tp: Any) -> bool:
    """Whether ``value`` has the right shape for ``tp`` (used to pick a member of a union)."""
    origin = get_origin(tp)
    if tp is Any:
        return True
    if origin is Literal or tp is str:
        return isinstance(value, str)
    if origin is tuple:
        return isinstance(value, (list, tuple))
    if origin is Mapping:
        return isinstance(value, Mapping)
    if isinstance(tp, type) and issubclass(tp, Section):
        return isinstance(value, (tp, Mapping)) or (tp._accepts_str and isinstance(value, str))
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, tp)


def describe(tp: Any) -> str:
    """Return a readable name for type ``tp`` (``"a list of integers"``)."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(t) for t in get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(c) for c in get_args(tp))
    if origin is tuple:
        item = get_args(tp)[0]
        plural = {str: "strings", int: "integers", float: "numbers", bool: "booleans (true/false)"}
        return f"a list of {plural[item]}" if item in plural else f"a list (each item {describe(item)})"
    if isinstance(tp, type) and issubclass(tp, Section) and tp._accepts_str:
        return "a string or a mapping"
    names = {
        type(None): "null",
        bool: "a boolean (true or false)",
        int: "an integer",
        float: "a number",
        str: "a string",
    }
    return names.get(tp, "a mapping")


def type_error(path: str, tp: Any, value: Any) -> ConfigError:
    """Return the error for ``value`` at ``path`` not being of type ``tp``."""
    where = path or "search space"
    return ConfigError(f"{where}: expected {describe(tp)}, got {value!r} ({type(value).__name__}).")


def at_least(section: Section, name: str, minimum: float, *, optional: bool = False) -> None:
    value = getattr(section, name)
    if value is not None and value < minimum:
        null = " (or null)" if optional else ""
        raise section._fail(name, f"must be at least {minimum}{null}, got {value}.")


def distinct(section: Section, name: str) -> None:
    values = getattr(section, name)
    if not values:
        raise section._fail(name, "needs at least one value.")
    dups = sorted({repr(v) for v in values if values.count(v) > 1})
    if dups:
        raise section._fail(name, f"lists {', '.join(dups)} more than once; keep one of each.")

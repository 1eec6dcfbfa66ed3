"""Reading a search-space file: bounded, strict YAML.

A search space may come from anyone, so reading one is bounded: the file's size, and the size
of the document once its aliases are expanded (a 425-byte "billion laughs" file of nested
aliases expands to a billion nodes), each have a limit that an environment variable raises.
Duplicate keys are errors (PyYAML silently keeps the last one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from promptsearch._limits import env_limit
from promptsearch.exceptions import ConfigError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_NODES", "read_yaml"]

#: Largest search-space file read, in bytes (``PROMPTSEARCH_MAX_YAML_BYTES`` raises it).
MAX_YAML_BYTES = 1_000_000
#: Most nodes a search space may hold once its aliases are expanded
#: (``PROMPTSEARCH_MAX_YAML_NODES`` raises it).
MAX_YAML_NODES = 100_000


def read_yaml(path: Path, where: str) -> Any:
    """Parse ``path`` with ``yaml.safe_load`` within the size limits; duplicate keys are errors."""
    max_bytes = env_limit("PROMPTSEARCH_MAX_YAML_BYTES", MAX_YAML_BYTES)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ConfigError(
                f"{where}: the file has {size:,} bytes, more than the limit of {max_bytes:,} for a search "
                "space; a search space is a short file (set PROMPTSEARCH_MAX_YAML_BYTES to raise the limit)."
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such search-space file; check the path.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start}); save the file as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file ({exc}).") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_size(root, where, env_limit("PROMPTSEARCH_MAX_YAML_NODES", MAX_YAML_NODES))
        try:
            _check_duplicate_keys(root, "", set())
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(where, exc) from None
    except RecursionError:
        raise ConfigError(f"{where}: the YAML is nested too deeply for a search space.") from None


def _check_size(root: yaml.Node | None, where: str, limit: int) -> None:
    """Raise when the document, its aliases expanded, holds more than ``limit`` nodes.

    Each node's expanded size is computed once (an alias is the same node object), so this
    takes time linear in the file, however large the expansion.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # a node that contains itself counts once
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        sizes[key] = min(total, limit + 1)
        return sizes[key]

    if root is not None and size(root) > limit:
        raise ConfigError(
            f"{where}: the YAML expands to more than {limit:,} values once its aliases (*name) are "
            "replaced by what they refer to; a search space needs far fewer. Remove the repeated "
            "aliases (set PROMPTSEARCH_MAX_YAML_NODES to raise the limit)."
        )


def _check_duplicate_keys(node: yaml.Node | None, path: str, seen_nodes: set[int]) -> None:
    """Raise on a mapping with a repeated key; every node is visited once (aliases too)."""
    if node is None or id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            where = f"{path}.{name}" if path else name
            if name in seen:
                raise ConfigError(f"{where}: duplicate key (line {key.start_mark.line + 1}); keep only one.")
            seen.add(name)
            _check_duplicate_keys(value, where, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicate_keys(item, f"{path}[{i}]", seen_nodes)


def _yaml_error(where: str, exc: yaml.YAMLError) -> ConfigError:
    """One line naming the file, the line and column, and what the parser expected there.

    PyYAML's own message spans several lines and names ``<unicode string>``; its parts are used
    instead: ``broken.yaml, line 8, column 1: invalid YAML: expected ',' or ']', but got
    '<scalar>' (while parsing a flow sequence that starts at line 7, column 7). ...``
    """
    if not isinstance(exc, yaml.MarkedYAMLError):
        return ConfigError(f"{where}: invalid YAML: {' '.join(str(exc).split())}")
    mark = exc.problem_mark or exc.context_mark
    at = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    detail = exc.problem or exc.context or "unreadable"
    context, start = exc.context, exc.context_mark
    if exc.problem and context:
        if start is not None and (mark is None or (start.line, start.column) != (mark.line, mark.column)):
            context += f" that starts at line {start.line + 1}, column {start.column + 1}"
        detail += f" ({context})"
    return ConfigError(
        f"{where}{at}: invalid YAML: {detail}. Check the quotes, brackets and indentation there "
        "(spaces, not tabs; quote text that holds ': ', '#', '[' or '{')."
    )

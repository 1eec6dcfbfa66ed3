"""Plugins: modules that register backends, metrics, operators, tuning modes... by themselves.

A plugin is found two ways, and imported once, the first time any registry is read (or when
the command line starts):

* an installed package's entry point in the group ``promptsearch.plugins`` (in its
  ``pyproject.toml``: ``[project.entry-points."promptsearch.plugins"] my_plugin = "my_plugin"``);
  the entry names a module (imported: its registrations run) or a function (called);
* the environment variable ``PROMPTSEARCH_PLUGINS``: module names separated by commas, for
  local modules that are not installed (``PROMPTSEARCH_PLUGINS=my_backend,my_metric``).

A plugin that fails to import is an error naming it (:class:`PluginError`), never a silent
omission.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from importlib.metadata import entry_points

from promptsearch.exceptions import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "load_plugins", "loaded_plugins"]

_logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "promptsearch.plugins"
_ENV = "PROMPTSEARCH_PLUGINS"

_lock = threading.RLock()
_state: dict[str, list[str] | bool] = {"loading": False, "done": False, "names": []}


class PluginError(ConfigError):
    """A plugin (entry point or ``PROMPTSEARCH_PLUGINS`` module) failed to load."""


def loaded_plugins() -> tuple[str, ...]:
    """Names of the plugins loaded so far (entry point names, or module names)."""
    names = _state["names"]
    return tuple(names) if isinstance(names, list) else ()


def load_plugins(*, force: bool = False) -> tuple[str, ...]:
    """Import every plugin once (again with ``force``); return their names.

    Raises:
        PluginError: naming the plugin that failed to import, and why.
    """
    if _state["done"] and not force:  # the common case, on every registry read: no lock
        return loaded_plugins()
    with _lock:
        if _state["loading"] or (_state["done"] and not force):
            return loaded_plugins()
        _state["loading"] = True
        try:
            names: list[str] = []
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                try:
                    target = ep.load()
                    if callable(target):
                        target()
                except Exception as exc:  # any failure of third-party code: name the plugin
                    raise PluginError(
                        f"The promptsearch plugin {ep.name!r} ({ep.value}, entry point group "
                        f"{ENTRY_POINT_GROUP!r}) failed to load: {type(exc).__name__}: {exc}. Fix or "
                        "uninstall it."
                    ) from exc
                names.append(ep.name)
            for module in (m.strip() for m in os.environ.get(_ENV, "").split(",")):
                if not module:
                    continue
                try:
                    importlib.import_module(module)
                except Exception as exc:
                    raise PluginError(
                        f"The promptsearch plugin module {module!r} (from {_ENV}) failed to import: "
                        f"{type(exc).__name__}: {exc}. Check the name and that its folder is on the "
                        "Python path (PYTHONPATH)."
                    ) from exc
                names.append(module)
            _state["names"] = names
            _state["done"] = True
            if names:
                _logger.debug("promptsearch plugins loaded: %s", ", ".join(names))
            return tuple(names)
        finally:
            _state["loading"] = False

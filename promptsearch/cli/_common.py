"""Helpers shared by the CLI commands: escapes, progress bars, output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from promptsearch.exceptions import ConfigError

__all__ = [
    "LogProgress",
    "check_at_least",
    "check_folder",
    "emit_json",
    "format_table",
    "progress_bar",
    "unescape",
]

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def unescape(text: str) -> str:
    """Turn ``\\n``, ``\\t`` and ``\\\\`` typed on a command line into the characters."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class LogProgress:
    """What a progress bar becomes when stderr is not a terminal (a log file, CI): one line per
    tenth of the work done, instead of a bar redrawn every second into thousands of lines.

    It has the part of tqdm's interface the CLI uses (``update``, ``reset``, ``set_postfix``,
    ``refresh``, ``close``, ``n``, ``total``, ``disable``, ``leave``).
    """

    def __init__(self, total: int | None, desc: str, unit: str, *, disable: bool = False) -> None:
        self.total, self.desc, self.unit, self.disable = total, desc, unit, disable
        self.n, self.leave, self.postfix = 0, True, ""
        self._shown, self._written = 0, 0  # tenths of the work logged, and the count last written

    def update(self, n: int = 1) -> None:
        self.n += n
        self._log()

    def reset(self, total: int | None = None) -> None:
        self.total, self.n, self._shown, self._written = total, 0, 0, 0

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def refresh(self) -> None:
        """Nothing to redraw: lines are written as the work advances."""

    def close(self) -> None:
        if self.leave and self.n and self.n != self._written:
            self._write()

    def _log(self) -> None:
        if self.disable or not self.total:
            return
        tenths = min(10, 10 * self.n // self.total)
        if tenths > self._shown:
            self._shown = tenths
            self._write()

    def _write(self) -> None:
        if self.disable:
            return
        of = f"/{self.total}" if self.total else ""
        pct = f" ({100 * self.n // self.total}%)" if self.total else ""
        extra = f", {self.postfix}" if self.postfix else ""
        self._written = self.n
        sys.stderr.write(f"{self.desc}: {self.n}{of} {self.unit}{pct}{extra}\n")
        sys.stderr.flush()


@contextmanager
def progress_bar(total: int | None, desc: str, *, enabled: bool = True, unit: str = "ex") -> Iterator[Any]:
    """A tqdm bar on stderr, or where stderr is not a terminal a :class:`LogProgress` (a line
    per tenth of the work); silent when disabled.

    The bar appears after half a second only, and is erased when an error ends the work, so
    that bad input gives its one error message and nothing else.
    """
    from tqdm.auto import tqdm

    bar: Any
    if not sys.stderr.isatty():
        bar = LogProgress(total, desc, unit, disable=not enabled)
    else:
        bar = tqdm(
            total=total,
            desc=desc,
            unit=unit,
            disable=not enabled,
            file=sys.stderr,
            dynamic_ncols=True,
            delay=0.5,
        )
    try:
        yield bar
    except BaseException:
        bar.leave = False
        raise
    finally:
        bar.close()


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (readable in a terminal too)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value).replace("\n", "\\n").replace("|", "\\|")

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]

    def line(vals: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(list(headers)), sep, *(line(r) for r in body)])


def check_at_least(args: argparse.Namespace, **minimums: int) -> None:
    """Raise ConfigError for a numeric option below its minimum (options left out are None).

    Example:
        >>> check_at_least(argparse.Namespace(batch_size=None, trials=3), batch_size=1, trials=1)
    """
    for dest, low in minimums.items():
        value = getattr(args, dest, None)
        if value is not None and value < low:
            flag = "--" + dest.replace("_", "-")
            raise ConfigError(
                f"{flag} must be at least {low}, got {value}; give a whole number from {low} up, or leave "
                "the option out for the default."
            )


def check_folder(path: str | Path, flag: str, *, file: bool = False) -> None:
    """Raise ConfigError unless ``path`` (a folder, or with ``file`` a file's) can be written.

    Checks before any work is done, so that a search or a prediction never runs only to fail
    when it saves its results. Nothing is created.
    """
    target = Path(path).expanduser()
    if file and target.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is a folder; give a file name, e.g. {target / 'out.jsonl'}.")
    folder = target.parent if file else target
    for existing in (folder, *folder.parents):
        if not existing.exists():
            continue
        if not existing.is_dir():
            raise ConfigError(
                f"{flag} {str(path)!r} cannot be created: {str(existing)!r} is a file, not a folder. "
                f"Choose another {flag}."
            )
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(
                f"{flag} {str(path)!r} cannot be created: {str(existing)!r} is not writable. Choose another "
                f"{flag} or fix the folder's permissions."
            )
        return

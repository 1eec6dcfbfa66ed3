"""The ``promptsearch`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from promptsearch._version import __version__
from promptsearch.exceptions import PromptSearchError, SearchInterrupted

__all__ = ["build_parser", "main"]

_logger = logging.getLogger("promptsearch")

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (naming ``--help``), like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}. Run `{self.prog} --help` to see the options.\n")


def build_parser() -> argparse.ArgumentParser:
    from promptsearch.cli import _data, _evaluate, _predict, _report, _search

    parser: argparse.ArgumentParser = _Parser(
        prog="promptsearch",
        description="Find good prompts automatically for a labelled task and a local language model.",
    )
    parser.add_argument("--version", action="version", version=f"promptsearch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (_evaluate, _data, _search, _report, _predict):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 failure, 2 bad usage or input, 130 stopped on request)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.INFO if args.verbose <= 1 else logging.DEBUG)
    if not args.verbose and not args.quiet:
        level = logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "datasets", "urllib3", "filelock", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    handler: Command | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        from promptsearch._plugins import load_plugins

        load_plugins()  # entry points and PROMPTSEARCH_PLUGINS: a broken plugin fails here, by name
        return handler(args)
    except SearchInterrupted as exc:  # a stop on request (Ctrl-C, SIGTERM): the shell's status for SIGINT
        sys.stderr.write(f"promptsearch {args.command}: stopped: {exc}\n")
        return 130
    except PromptSearchError as exc:
        return _fail(args, str(exc))
    except OSError as exc:  # a file system or network refusal: say which path, not a traceback
        where = f" ({exc.filename!r})" if exc.filename else ""
        return _fail(args, f"{exc.strerror or exc}{where}; check the path and its permissions.")
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted; work already saved is kept.\n")
        return 130


def _fail(args: argparse.Namespace, message: str) -> int:
    """Write one error line on stderr (the traceback only at -vv) and return exit status 2."""
    _logger.debug("Traceback of the error below:", exc_info=True)
    sys.stderr.write(f"promptsearch {args.command}: error: {message}\n")
    return 2

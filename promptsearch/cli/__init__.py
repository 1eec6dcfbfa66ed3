"""Command-line interface: ``promptsearch evaluate | search | report | predict | data | models``."""

from promptsearch.cli._main import build_parser, main

__all__ = ["build_parser", "main"]

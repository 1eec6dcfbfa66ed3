"""Text in Markdown reports: escaped, since Markdown viewers render raw HTML.

Templates, label words, task names and generated texts come from users' files and models; in a
Markdown file that a viewer renders, a ``</textarea><script>`` inside one would run. Every text
placed in a Markdown report goes through :func:`md_text` (prose) or :func:`md_cell` (a table
cell), as every text in the HTML report goes through ``html.escape``.
"""

from __future__ import annotations

import html

__all__ = ["md_cell", "md_text"]


def md_text(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` as HTML entities (shown as themselves when rendered).

    Example:
        >>> md_text("</textarea><script>alert(1)</script>")
        '&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;'
    """
    return html.escape(text, quote=False)


def md_cell(text: str, width: int | None = None) -> str:
    """One Markdown table cell: escaped, newlines shown as ``\\n``, pipes escaped, cut at ``width``.

    Example:
        >>> md_cell("Review: {text}\\nSentiment: <b>|{label}")
        'Review: {text}\\\\nSentiment: &lt;b&gt;\\\\|{label}'
    """
    flat = text.replace("\n", "\\n")
    if width is not None and len(flat) > width:
        flat = flat[: width - 1].rstrip() + "…"
    return md_text(flat).replace("|", "\\|")

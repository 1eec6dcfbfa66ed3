"""Text helpers shared by the operators: phrases, words and template text parts.

Edits never touch slots: an instruction is plain text, and in a template only the literal
text between slots (the :class:`~promptsearch.templates.TextPart` objects) is edited; the
template is then written back with literal braces escaped.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from promptsearch.exceptions import ConfigError
from promptsearch.templates._template import FieldPart, LabelPart, Part, SoftPart, TextPart, parse_template

__all__ = [
    "SCOPES",
    "Edit",
    "check_scope",
    "delete_token",
    "escape",
    "join_phrases",
    "match_case",
    "split_phrases",
    "split_tokens",
    "text_parts",
    "unparse",
    "with_text_part",
    "word_indices",
]

#: Where the phrase/word operators may edit.
SCOPES: tuple[str, ...] = ("both", "instruction", "template")

# Conjunctions that start a new phrase (a light stand-in for GrIPS's constituency parser).
# "or" is left out, and a split needs 3 words before and 2 after the conjunction, so that lists
# such as "positive or negative" and "good and bad" stay whole.
_CONJUNCTIONS = frozenset(
    {"and", "but", "so", "because", "while", "then", "although", "whereas", "since", "unless"}
)
_AFTER_PUNCT = re.compile(r"(?<=[.;:!?,])\s+")
_WS = re.compile(r"(\s+)")
WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")


class Edit(NamedTuple):
    """A proposed (instruction, template source) pair with a description of the edit."""

    instruction: str
    template: str
    detail: str


def check_scope(scope: str) -> str:
    """Return ``scope`` if valid, else raise :class:`ConfigError`."""
    if scope not in SCOPES:
        raise ConfigError(f"Unknown edit scope {scope!r}; use one of {list(SCOPES)}.")
    return scope


def escape(text: str) -> str:
    """Escape literal braces for the template language."""
    return text.replace("{", "{{").replace("}", "}}")


def unparse(parts: tuple[Part, ...] | list[Part]) -> str:
    """Write parsed template parts back as a template source (inverse of parsing)."""
    out: list[str] = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append(escape(p.text))
        elif isinstance(p, FieldPart):
            out.append("{" + p.name + "}")
        elif isinstance(p, LabelPart):
            out.append("{label}")
        elif isinstance(p, SoftPart):
            out.append(f"{{soft:{p.n}}}")
    return "".join(out)


def text_parts(template: str) -> list[tuple[int, str]]:
    """``(part index, text)`` of every literal text part of ``template``."""
    return [(i, p.text) for i, p in enumerate(parse_template(template)) if isinstance(p, TextPart)]


def with_text_part(template: str, index: int, text: str) -> str:
    """Return ``template`` with its part ``index`` (a text part) replaced by ``text``."""
    parts = list(parse_template(template))
    parts[index] = TextPart(text)
    return unparse([p for p in parts if not (isinstance(p, TextPart) and not p.text)])


def split_phrases(text: str, *, words_fallback: bool = True) -> list[str]:
    """Split an instruction into phrases at punctuation and conjunctions.

    Whitespace is normalized. With ``words_fallback``, a text that forms a single phrase is
    split into its words instead, so that a short instruction can still be edited.
    """
    words_all = text.split()
    if not words_all:
        return []
    phrases: list[str] = []
    for piece in _AFTER_PUNCT.split(" ".join(words_all)):
        current: list[str] = []
        words = piece.split(" ")
        for k, word in enumerate(words):
            if len(current) >= 3 and len(words) - k >= 3 and word.lower() in _CONJUNCTIONS:
                phrases.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            phrases.append(" ".join(current))
    return words_all if words_fallback and len(phrases) == 1 else phrases


_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")


def join_phrases(phrases: list[str], like: str = "") -> str:
    """Join phrases into an instruction and tidy it after the style of ``like`` (the original).

    Dangling commas and semicolons at the ends are removed; if ``like`` is written in
    sentences (starts with a capital), sentences start with capitals again, and the final
    punctuation of ``like`` is restored when the edit removed it.
    """
    text = " ".join(p for p in phrases if p).strip().strip(",;").strip()
    if not text:
        return text
    if like[:1].isupper():
        text = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    end = like.rstrip()[-1:]
    if end in (".", "!", "?") and text[-1] not in ".!?:":
        text += end
    return text


def split_tokens(text: str) -> list[str]:
    """Split into alternating word and whitespace tokens (words at even indices)."""
    return _WS.split(text)


def word_indices(tokens: list[str]) -> list[int]:
    """Indices of the non-empty word tokens of :func:`split_tokens` output."""
    return [i for i in range(0, len(tokens), 2) if tokens[i]]


def delete_token(tokens: list[str], index: int) -> str:
    """Remove word ``index`` with one neighbouring space, keeping line breaks."""
    out = list(tokens)
    out[index] = ""
    if index + 1 < len(out) and "\n" not in out[index + 1]:
        out[index + 1] = ""
    elif index > 0 and "\n" not in out[index - 1]:
        out[index - 1] = ""
    return "".join(out)


def match_case(word: str, like: str) -> str:
    """Give ``word`` the capitalization style of ``like``."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word

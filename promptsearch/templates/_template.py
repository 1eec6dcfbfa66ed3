"""A small, safe template language for prompts.

Syntax:
    ``{field}``    an input field of the example (a plain identifier);
    ``{label}``    the slot where the label word (or answer choice) goes, exactly once; a
                   generation template (``Template(source, generation=True)``) has none:
                   the answer is generated after its end;
    ``{soft:N}``   N trainable prompt embeddings (soft tokens), for prompt tuning;
    ``{{`` ``}}``  literal braces.

Nothing else may appear inside braces: no attribute access, indexing, format specs or code.
The label word follows the text before ``{label}`` after one space, unless that text already
ends in whitespace, so ``"Sentiment:{label}"`` scores ``" negative"``, as
lm-evaluation-harness does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promptsearch._limits import env_limit
from promptsearch.exceptions import TemplateError

__all__ = [
    "SOFT_MARKER",
    "FieldPart",
    "LabelPart",
    "Part",
    "RenderedTemplate",
    "SoftPart",
    "Template",
    "TextPart",
    "join_label",
    "parse_template",
]

#: Character that stands for one soft token in rendered text (Unicode private use area). Only
#: soft-prompt scorers (:mod:`promptsearch.tuning`) accept text containing it; they replace
#: each occurrence by one trainable embedding.
SOFT_MARKER = "\ue000"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SOFT = re.compile(r"soft:(\d+)\Z")

#: Most soft tokens a template may hold in all (``PROMPTSEARCH_MAX_SOFT_TOKENS`` raises it):
#: prompt tuning uses tens of them, and each one costs memory in every scored sequence.
MAX_SOFT_TOKENS = 512


def max_soft_tokens() -> int:
    """:data:`MAX_SOFT_TOKENS`, or the value of ``PROMPTSEARCH_MAX_SOFT_TOKENS``."""
    return env_limit("PROMPTSEARCH_MAX_SOFT_TOKENS", MAX_SOFT_TOKENS, TemplateError)


@dataclass(frozen=True)
class TextPart:
    """Literal text."""

    text: str


@dataclass(frozen=True)
class FieldPart:
    """An input field, filled from the example."""

    name: str


@dataclass(frozen=True)
class LabelPart:
    """The slot of the label word."""


@dataclass(frozen=True)
class SoftPart:
    """``n`` trainable prompt embeddings."""

    n: int


Part = TextPart | FieldPart | LabelPart | SoftPart


def join_label(context: str, word: str) -> str:
    """Return the continuation that scores ``word`` after ``context``.

    A space is inserted unless ``context`` is empty or ends in whitespace.
    """
    word = word.strip()
    if not context or context[-1].isspace():
        return word
    return " " + word


def _parse(source: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    buf: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "{" and source.startswith("{{", i):
            buf.append("{")
            i += 2
        elif ch == "}" and source.startswith("}}", i):
            buf.append("}")
            i += 2
        elif ch == "}":
            raise TemplateError(
                f"Unmatched '}}' at position {i} of template {source!r}; write '}}}}' for a literal brace."
            )
        elif ch == "{":
            end = source.find("}", i + 1)
            if end < 0:
                raise TemplateError(
                    f"Unclosed '{{' at position {i} of template {source!r}; close it with '}}' or write "
                    "'{{' for a literal brace."
                )
            inner = source[i + 1 : end].strip()
            if buf:
                parts.append(TextPart("".join(buf)))
                buf = []
            parts.append(_slot(inner, i, source))
            i = end + 1
        else:
            buf.append(ch)
            i += 1
    if buf:
        parts.append(TextPart("".join(buf)))
    return tuple(parts)


def parse_template(source: str) -> tuple[Part, ...]:
    """Parse ``source`` into parts, checking the syntax and that ``{label}`` appears at most once.

    Used where templates of every task type meet (candidate pools, edit operators); a
    :class:`Template` also checks the slot its task type needs.

    Raises:
        TemplateError: naming the position of a syntax error.
    """
    parts = _parse(source)
    n_soft, limit = sum(p.n for p in parts if isinstance(p, SoftPart)), max_soft_tokens()
    if n_soft > limit:
        raise TemplateError(
            f"Template {source[:80]!r} holds {n_soft} soft tokens in all, more than the limit of {limit} "
            "(set PROMPTSEARCH_MAX_SOFT_TOKENS to raise it)."
        )
    labels = sum(isinstance(p, LabelPart) for p in parts)
    if labels > 1:
        raise TemplateError(
            f"Template {source!r} has {labels} {{label}} slots; it needs exactly one, where the "
            "label word goes (e.g. 'Review: {text}\\nSentiment:{label}')."
        )
    return parts


def _slot(inner: str, pos: int, source: str) -> Part:
    if inner == "label":
        return LabelPart()
    soft = _SOFT.match(inner)
    if soft:
        digits, limit = soft.group(1).lstrip("0") or "0", max_soft_tokens()
        if len(digits) > len(str(limit)) or int(digits) > limit:
            shown = digits if len(digits) <= 12 else digits[:12] + "..."
            raise TemplateError(
                f"{{soft:{shown}}} at position {pos} asks for more soft tokens than the limit of {limit}; "
                "prompt tuning needs tens of them (set PROMPTSEARCH_MAX_SOFT_TOKENS to raise the limit)."
            )
        count = int(digits)
        if count < 1:
            raise TemplateError(f"{{soft:{count}}} at position {pos} needs at least one soft token.")
        return SoftPart(count)
    if _IDENT.match(inner):
        return FieldPart(inner)
    raise TemplateError(
        f"Invalid slot {{{inner}}} at position {pos} of template {source!r}: only {{field}}, {{label}} "
        "and {soft:N} are allowed (no attribute access, indexing or expressions); write '{{' and '}}' "
        "for literal braces."
    )


@dataclass(frozen=True)
class Template:
    """A parsed prompt template.

    Args:
        source: The template text.
        generation: The answer is generated after the end of the template, which then has
            no ``{label}`` slot (question answering, rewriting, summarization).

    Example:
        >>> t = Template("Review: {text}\\nSentiment:{label}")
        >>> t.fields
        ('text',)
        >>> t.render({"text": "Great."}).context
        'Review: Great.\\nSentiment:'
        >>> Template("Question: {text}\\nAnswer:", generation=True).render({"text": "2+2?"}).context
        'Question: 2+2?\\nAnswer:'
    """

    source: str
    generation: bool = False

    def __post_init__(self) -> None:
        parts = parse_template(self.source)
        labels = sum(isinstance(p, LabelPart) for p in parts)
        if self.generation and labels:
            raise TemplateError(
                f"Template {self.source!r} has a {{label}} slot, but in a generation task the answer is "
                "generated after the end of the template; remove {label} (e.g. 'Question: {text}\\nAnswer:')."
            )
        if not self.generation and labels != 1:
            raise TemplateError(
                f"Template {self.source!r} has {labels} {{label}} slots; it needs exactly one, where the "
                "label word goes (e.g. 'Review: {text}\\nSentiment:{label}')."
            )
        object.__setattr__(self, "_parts", parts)

    @property
    def parts(self) -> tuple[Part, ...]:
        """The parsed parts, in order."""
        parts: tuple[Part, ...] = self.__dict__["_parts"]
        return parts

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the input fields used, in order of first use."""
        seen: dict[str, None] = {}
        for p in self.parts:
            if isinstance(p, FieldPart):
                seen.setdefault(p.name)
        return tuple(seen)

    @property
    def n_soft(self) -> int:
        """Total number of soft tokens in the template."""
        return sum(p.n for p in self.parts if isinstance(p, SoftPart))

    @property
    def id(self) -> str:
        """Content hash of the source (and of the generation flag, when set)."""
        text = self.source + ("\x00generation" if self.generation else "")
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def check_fields(self, available: Sequence[str]) -> None:
        """Raise :class:`TemplateError` if the template uses a field not in ``available``."""
        missing = [f for f in self.fields if f not in available]
        if missing:
            raise TemplateError(
                f"Template {self.source!r} uses field(s) {missing} that the task does not have; "
                f"available fields: {list(available)}."
            )

    def render(self, inputs: Mapping[str, str], soft_token: str = SOFT_MARKER) -> RenderedTemplate:
        """Fill the fields; return the text before and after the label slot.

        Soft slots render as ``soft_token`` repeated N times (:data:`SOFT_MARKER` by default,
        which soft-prompt scorers replace by embeddings).
        """
        before: list[str] = []
        after: list[str] = []
        out = before
        for p in self.parts:
            if isinstance(p, TextPart):
                out.append(p.text)
            elif isinstance(p, FieldPart):
                try:
                    out.append(inputs[p.name])
                except KeyError:
                    raise TemplateError(
                        f"Template {self.source!r} needs field {p.name!r}, but the example has only "
                        f"{sorted(inputs)}."
                    ) from None
            elif isinstance(p, SoftPart):
                out.append(soft_token * p.n)
            else:
                out = after
        return RenderedTemplate("".join(before), "".join(after))

    def fill(self, inputs: Mapping[str, str], word: str) -> str:
        """Render the whole text with ``word`` in the label slot, or after the end of a
        generation template (used for demonstrations)."""
        rendered = self.render(inputs, soft_token="")
        return rendered.context + join_label(rendered.context, word) + rendered.suffix

    def __str__(self) -> str:
        return self.source


@dataclass(frozen=True)
class RenderedTemplate:
    """The text before (``context``) and after (``suffix``) the label slot."""

    context: str
    suffix: str

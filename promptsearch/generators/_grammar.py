"""Candidate spaces written as grammars: a product of phrase choices, or a small CFG."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from promptsearch._registry import suggest
from promptsearch.exceptions import ConfigError
from promptsearch.generators._candidate import Candidate
from promptsearch.generators._text import escape

__all__ = ["CFG", "TemplateGrammar"]

_logger = logging.getLogger(__name__)
T = TypeVar("T")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NONTERMINAL = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
# Above this many combinations, sample indices by rejection instead of permuting them all.
_PERMUTE_LIMIT = 100_000


def _sample_indices(size: int, rng: np.random.Generator) -> Iterator[int]:
    """Yield distinct indices of ``range(size)`` uniformly at random, without materializing."""
    if size <= _PERMUTE_LIMIT:
        yield from (int(i) for i in rng.permutation(size))
        return
    seen: set[int] = set()
    while len(seen) < size:
        i = int(rng.integers(size))
        if i not in seen:
            seen.add(i)
            yield i


def _distinct(items: Iterator[T], n: int | None, key: Callable[[T], str]) -> list[T]:
    """The first ``n`` items (all if ``None``) with distinct keys, in order."""
    out: dict[str, T] = {}
    for item in items:
        if n is not None and len(out) >= n:
            break
        out.setdefault(key(item), item)
    return list(out.values())


def _title(field: str) -> str:
    return field.replace("_", " ").title()


def _phrases(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(
            f"TemplateGrammar.{name} must be a tuple of phrases, got {value!r}; e.g. ('', 'Review: ')."
        )
    phrases = tuple(dict.fromkeys(str(v) for v in value))  # dedupe, keep order
    if not phrases:
        raise ConfigError(f"TemplateGrammar.{name} is empty; give at least one phrase ('' for none).")
    return phrases


@dataclass(frozen=True)
class TemplateGrammar:
    """The product of phrase choices: instruction x input prefix x connector x answer prefix.

    Each combination gives the candidate ``Candidate(instruction, template, origin="grammar")``
    with template ``f"{input_prefix}{{field}}{connector}{answer_prefix}{{label}}"`` (without the
    ``{label}`` slot when ``answer_slot`` is false: generation templates end there). Several
    fields are joined with the connector, each after the same prefix; the marker ``<Field>``
    in a prefix becomes the field's name, title-cased (``"<Field>: "`` gives ``"Premise: "``).
    Literal braces in phrases are escaped. Duplicate phrases are dropped.

    Example:
        >>> g = TemplateGrammar(instruction=("", "Classify the review."),
        ...                     input_prefix=("Review: ",), connector=("\\n",),
        ...                     answer_prefix=("Sentiment:", "Answer:"))
        >>> g.size()
        4
        >>> g.enumerate(limit=1)[0].template
        'Review: {text}\\nSentiment:{label}'
    """

    instruction: tuple[str, ...] = ("",)
    input_prefix: tuple[str, ...] = ("",)
    connector: tuple[str, ...] = ("\n",)
    answer_prefix: tuple[str, ...] = ("",)
    fields: tuple[str, ...] = ("text",)
    answer_slot: bool = True

    def __post_init__(self) -> None:
        for name in ("instruction", "input_prefix", "connector", "answer_prefix"):
            object.__setattr__(self, name, _phrases(name, getattr(self, name)))
        fields = (self.fields,) if isinstance(self.fields, str) else tuple(self.fields)
        bad = [f for f in fields if not _IDENT.match(f) or f == "label"]
        if not fields or bad:
            raise ConfigError(
                f"TemplateGrammar.fields {fields!r} must be one or more identifiers other than 'label' "
                "(the task's input field names, e.g. ('text',) or ('premise', 'hypothesis'))."
            )
        object.__setattr__(self, "fields", fields)

    def _axes(self) -> tuple[tuple[str, ...], ...]:
        return (self.instruction, self.input_prefix, self.connector, self.answer_prefix)

    def size(self) -> int:
        """Number of phrase combinations (the last axis, answer prefix, varies fastest)."""
        return math.prod(len(a) for a in self._axes())

    def candidate(self, index: int) -> Candidate:
        """The candidate of combination ``index`` (``0 <= index < size()``)."""
        if not 0 <= index < self.size():
            raise ConfigError(f"Grammar index {index} is out of range [0, {self.size()}).")
        choice: list[str] = []
        for axis in reversed(self._axes()):
            index, digit = divmod(index, len(axis))
            choice.append(axis[digit])
        instruction, prefix, connector, answer = reversed(choice)
        inputs = [escape(prefix.replace("<Field>", _title(f))) + "{" + f + "}" for f in self.fields]
        slot = "{label}" if self.answer_slot else ""
        template = escape(connector).join(inputs) + escape(connector) + escape(answer) + slot
        return Candidate(instruction=instruction, template=template, origin="grammar")

    def enumerate(self, limit: int | None = None) -> list[Candidate]:
        """Distinct candidates in combination order, at most ``limit``."""
        return _distinct((self.candidate(i) for i in range(self.size())), limit, _candidate_id)

    def sample(self, n: int, seed: int) -> list[Candidate]:
        """``n`` distinct candidates drawn uniformly from the combinations (all if fewer).

        Deterministic for a given ``seed`` (0 is a valid seed); the product is never built.
        """
        if n < 0:
            raise ConfigError(f"Cannot sample n={n} candidates; n must be >= 0.")
        rng = np.random.default_rng(seed)
        size = self.size()
        return _distinct((self.candidate(i) for i in _sample_indices(size, rng)), n, _candidate_id)


class CFG:
    """A small context-free grammar over strings, for template spaces that a product cannot express.

    ``rules`` maps each nonterminal to its alternatives; ``<name>`` inside an alternative
    expands the nonterminal ``name``. The grammar must not be recursive, so its language is
    finite: :meth:`size` counts derivations, :meth:`enumerate` lists them in rule order and
    :meth:`sample` draws derivations uniformly without listing them. Equal strings from
    different derivations are returned once.

    Args:
        rules: Nonterminal -> alternatives.
        start: The nonterminal to expand.

    Example:
        >>> cfg = CFG({"template": ["<pre>{text}\\n<ans>{label}"], "pre": ["", "Review: "],
        ...            "ans": ["Sentiment:", "Answer:"]})
        >>> cfg.size()
        4
        >>> cfg.enumerate()[0]
        '{text}\\nSentiment:{label}'
    """

    def __init__(self, rules: Mapping[str, Sequence[str]], start: str = "template") -> None:
        self.rules = {name: tuple(alts) for name, alts in rules.items()}
        self.start = start
        self._counts: dict[str, int] = {}
        for name, alts in self.rules.items():
            if not alts or isinstance(rules[name], str):
                raise ConfigError(f"CFG rule {name!r} needs a sequence of alternatives, got {rules[name]!r}.")
            for alt in alts:
                for ref in _NONTERMINAL.findall(alt):
                    if ref not in self.rules:
                        raise ConfigError(
                            f"CFG rule {name!r} references unknown nonterminal <{ref}>. "
                            f"{suggest(ref, list(self.rules))}"
                        )
        if start not in self.rules:
            raise ConfigError(f"CFG start symbol {start!r} has no rule. {suggest(start, list(self.rules))}")
        self._count(start, ())

    def _count(self, name: str, stack: tuple[str, ...]) -> int:
        if name in stack:
            raise ConfigError(f"CFG is recursive ({' -> '.join((*stack, name))}); remove the cycle.")
        if name not in self._counts:
            self._counts[name] = sum(self._alt_count(alt, (*stack, name)) for alt in self.rules[name])
        return self._counts[name]

    def _alt_count(self, alt: str, stack: tuple[str, ...]) -> int:
        return math.prod(self._count(ref, stack) for ref in _NONTERMINAL.findall(alt))

    def size(self, symbol: str | None = None) -> int:
        """Number of derivations of ``symbol`` (default: the start symbol)."""
        return self._counts[symbol or self.start]

    def expand(self, index: int, symbol: str | None = None) -> str:
        """The string of derivation ``index`` of ``symbol`` (``0 <= index < size(symbol)``)."""
        name = symbol or self.start
        if not 0 <= index < self.size(name):
            raise ConfigError(f"CFG index {index} is out of range [0, {self.size(name)}) for <{name}>.")
        for alt in self.rules[name]:
            count = self._alt_count(alt, ())
            if index >= count:
                index -= count
                continue
            refs = _NONTERMINAL.findall(alt)
            digits: list[int] = []
            for ref in reversed(refs):  # the last reference varies fastest
                index, digit = divmod(index, self.size(ref))
                digits.append(digit)
            values = [self.expand(d, ref) for ref, d in zip(refs, reversed(digits), strict=True)]
            pieces = _NONTERMINAL.split(alt)  # literal, name, literal, name, ..., literal
            pieces[1::2] = values
            return "".join(pieces)
        raise AssertionError("unreachable: index was range-checked")

    def enumerate(self, limit: int | None = None) -> list[str]:
        """Distinct strings in derivation order, at most ``limit``."""
        return _distinct((self.expand(i) for i in range(self.size())), limit, str)

    def sample(self, n: int, seed: int) -> list[str]:
        """``n`` distinct strings from derivations drawn uniformly (all if fewer); seeded."""
        if n < 0:
            raise ConfigError(f"Cannot sample n={n} strings; n must be >= 0.")
        size = self.size()
        rng = np.random.default_rng(seed)
        return _distinct((self.expand(i) for i in _sample_indices(size, rng)), n, str)


def _candidate_id(candidate: Candidate) -> str:
    return candidate.id

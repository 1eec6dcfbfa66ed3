"""Edit operators (GrIPS, Prasad et al. 2022): delete, swap, add phrases, and crossover.

Operators edit the instruction at phrase level and the template's literal text at word
level, never its slots. Every proposal is validated: it must parse as a template with one
``{label}``, the parent's fields and its number of soft tokens; invalid proposals, copies
of a parent and duplicates are dropped, so an operator may return fewer than ``n``
candidates (possibly none).
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from promptsearch._registry import Registry, suggest
from promptsearch.exceptions import ConfigError, PromptSearchError
from promptsearch.generators._candidate import Candidate
from promptsearch.generators._text import (
    Edit,
    check_scope,
    delete_token,
    join_phrases,
    split_phrases,
    split_tokens,
    text_parts,
    with_text_part,
    word_indices,
)
from promptsearch.templates._template import parse_template

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend

__all__ = [
    "DEFAULT_PHRASES",
    "AddOperator",
    "BaseOperator",
    "DeleteOperator",
    "SwapOperator",
    "make_operator",
    "operators",
    "register_operator",
    "shuffled",
]

_logger = logging.getLogger(__name__)

#: Phrases that :class:`AddOperator` inserts by default.
DEFAULT_PHRASES: tuple[str, ...] = (
    "Be concise.",
    "Answer with one word.",
    "Think about the overall tone.",
    "Read the text carefully.",
    "Focus on the main point.",
    "Choose the most fitting label.",
    "Consider the author's opinion.",
    "Ignore irrelevant details.",
)


class BaseOperator(ABC):
    """Proposes new candidates from one parent (or two, for ``arity = 2``).

    Subclasses implement :meth:`propose`; crossover-type operators set ``arity = 2`` and
    implement :meth:`propose_pair`. Outputs have ``origin`` = :attr:`name`, the parents' ids
    and ``generation`` = parent generation + 1 (callers such as :func:`evolve` may override).

    An operator is registered once in :data:`operators`; a search space's ``operators:``
    section names it and gives its settings, which are its constructor's keyword arguments
    (:meth:`setting_names`) except those the engine injects (:attr:`injected`, e.g. the model).

    Example:
        >>> import numpy as np
        >>> op = DeleteOperator(scope="instruction")
        >>> parent = Candidate("Classify the review, then answer.", "{text}\\nSentiment:{label}")
        >>> sorted(c.instruction for c in op.propose(parent, np.random.default_rng(0), 8))
        ['Classify the review.', 'Then answer.']
    """

    name: ClassVar[str] = "operator"
    arity: ClassVar[int] = 1
    #: Constructor arguments the search engine provides (the backend), not settings.
    injected: ClassVar[tuple[str, ...]] = ()
    #: Used when a search space does not list its operators.
    default_enabled: ClassVar[bool] = True

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """Settings a search space may give (the constructor's keyword arguments)."""
        params = inspect.signature(cls.__init__).parameters.values()
        skip = {"self", *cls.injected}
        return tuple(
            p.name for p in params if p.name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any], where: str) -> None:
        """Raise :class:`ConfigError` for an unknown setting (``where`` is its path in the space)."""
        allowed = cls.setting_names()
        for key in settings:
            if key not in allowed:
                raise ConfigError(
                    f"{where}.{key}: unknown setting. {suggest(str(key), ('enabled', *allowed))}"
                )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], *, backend: LMBackend | None = None) -> BaseOperator:
        """Build the operator from a search space's settings (the backend for model-based ones)."""
        return cls(**settings)

    @abstractmethod
    def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        """Return up to ``n`` distinct valid candidates derived from ``parent``."""

    def propose_pair(self, a: Candidate, b: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        """Return up to ``n`` candidates combining ``a`` and ``b`` (for ``arity = 2``)."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _emit(self, parents: Sequence[Candidate], edits: Iterable[Edit], n: int) -> list[Candidate]:
        """Validate and dedupe ``edits`` (in order) into at most ``n`` new candidates."""
        first = parents[0]
        fields, n_soft, slots = _shape(first.template)
        seen = {p.id for p in parents}
        out: list[Candidate] = []
        for edit in edits:
            if len(out) >= n:
                break
            try:
                cand = Candidate(
                    instruction=edit.instruction,
                    template=edit.template,
                    origin=self.name,
                    parents=tuple(p.id for p in parents),
                    generation=max(p.generation for p in parents) + 1,
                    detail=edit.detail,
                )
            except PromptSearchError as err:
                _logger.debug("%s: dropped invalid proposal %r: %s", self.name, edit, err)
                continue
            if _shape(cand.template) != (fields, n_soft, slots) or cand.id in seen:
                continue
            seen.add(cand.id)
            out.append(cand)
        return out


def _shape(template: str) -> tuple[set[str], int, int]:
    """Fields, soft tokens and ``{label}`` slots of a template: what an edit must keep."""
    from promptsearch.templates._template import FieldPart, LabelPart, SoftPart

    parts = parse_template(template)
    fields = {p.name for p in parts if isinstance(p, FieldPart)}
    return (
        fields,
        sum(p.n for p in parts if isinstance(p, SoftPart)),
        sum(isinstance(p, LabelPart) for p in parts),
    )


def shuffled(edits: list[Edit], rng: np.random.Generator) -> list[Edit]:
    """``edits`` in a random order drawn from ``rng``."""
    return [edits[int(i)] for i in rng.permutation(len(edits))]


class _PhraseOperator(BaseOperator):
    """Shared constructor: ``scope`` says whether to edit the instruction, the template or both."""

    def __init__(self, *, scope: str = "both") -> None:
        self.scope = check_scope(scope)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scope={self.scope!r})"

    def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        edits: list[Edit] = []
        if self.scope in ("both", "instruction"):
            edits += self._instruction_edits(parent)
        if self.scope in ("both", "template"):
            for index, text in text_parts(parent.template):
                tokens = split_tokens(text)
                for new_text, detail in self._text_edits(tokens):
                    template = with_text_part(parent.template, index, new_text)
                    edits.append(Edit(parent.instruction, template, detail))
        return self._emit([parent], shuffled(edits, rng), n)

    def _instruction_edits(self, parent: Candidate) -> list[Edit]:
        return []

    def _text_edits(self, tokens: list[str]) -> list[tuple[str, str]]:
        return []


operators: Registry[type[BaseOperator]] = Registry("operator")

OperatorT = TypeVar("OperatorT", bound=type[BaseOperator])


def register_operator(cls: OperatorT) -> OperatorT:
    """Class decorator: register an operator under its own ``name`` (one spelling).

    ``operators: {NAME: {...settings}}`` in a space then uses it.
    """
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name; set the class attribute `name`.")
    operators.register(cls.name, cls)
    return cls


@register_operator
class DeleteOperator(_PhraseOperator):
    """Deletes one phrase of the instruction or one word of the template's text.

    Args:
        scope: ``"both"``, ``"instruction"`` or ``"template"``.

    Example:
        >>> import numpy as np
        >>> out = DeleteOperator(scope="instruction").propose(
        ...     Candidate("Read it. Classify it.", "{text} It was{label}"), np.random.default_rng(0), 5)
        >>> sorted(c.instruction for c in out)
        ['Classify it.', 'Read it.']
    """

    name = "delete"

    def _instruction_edits(self, parent: Candidate) -> list[Edit]:
        phrases = split_phrases(parent.instruction)
        return [
            Edit(
                join_phrases(phrases[:i] + phrases[i + 1 :], parent.instruction),
                parent.template,
                f"delete {phrases[i]!r}",
            )
            for i in range(len(phrases))
        ]

    def _text_edits(self, tokens: list[str]) -> list[tuple[str, str]]:
        return [(delete_token(tokens, i), f"delete {tokens[i]!r}") for i in word_indices(tokens)]


@register_operator
class SwapOperator(_PhraseOperator):
    """Swaps two phrases of the instruction, or two words within one text part of the template.

    Args:
        scope: ``"both"``, ``"instruction"`` or ``"template"``.

    Example:
        >>> import numpy as np
        >>> out = SwapOperator().propose(Candidate("Read it. Classify it.", "{text}{label}"),
        ...                              np.random.default_rng(0), 5)
        >>> [c.instruction for c in out]
        ['Classify it. Read it.']
    """

    name = "swap"

    def _instruction_edits(self, parent: Candidate) -> list[Edit]:
        ph = split_phrases(parent.instruction)
        edits = []
        for i in range(len(ph)):
            for j in range(i + 1, len(ph)):
                new = [*ph[:i], ph[j], *ph[i + 1 : j], ph[i], *ph[j + 1 :]]
                detail = f"swap {ph[i]!r} <-> {ph[j]!r}"
                edits.append(Edit(join_phrases(new, parent.instruction), parent.template, detail))
        return edits

    def _text_edits(self, tokens: list[str]) -> list[tuple[str, str]]:
        words = word_indices(tokens)
        edits = []
        for a, i in enumerate(words):
            for j in words[a + 1 :]:
                new = list(tokens)
                new[i], new[j] = tokens[j], tokens[i]
                edits.append(("".join(new), f"swap {tokens[i]!r} <-> {tokens[j]!r}"))
        return edits


@register_operator
class AddOperator(BaseOperator):
    """Inserts a phrase at a phrase boundary of the instruction (or makes it the instruction).

    Args:
        phrases: Phrases to insert; default :data:`DEFAULT_PHRASES`.

    Example:
        >>> import numpy as np
        >>> out = AddOperator(["Be brief."]).propose(Candidate("", "{text}{label}"),
        ...                                           np.random.default_rng(0), 3)
        >>> [c.instruction for c in out]
        ['Be brief.']
    """

    name = "add"

    def __init__(self, phrases: Sequence[str] | None = None) -> None:
        self.phrases = tuple(DEFAULT_PHRASES if phrases is None else phrases)

    def __repr__(self) -> str:
        return f"AddOperator(phrases={list(self.phrases)!r})"

    def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        current = split_phrases(parent.instruction, words_fallback=False)
        if current and current[-1][-1] not in ".!?:":
            current[-1] += "."  # end the last sentence so that the added one reads as a sentence
        # Sentence boundaries only: the added phrases are whole sentences.
        where = [i for i in range(len(current) + 1) if i == 0 or current[i - 1][-1] in ".!?:"]
        edits = [
            Edit(join_phrases([*current[:i], phrase, *current[i:]]), parent.template, f"add {phrase!r}")
            for phrase in self.phrases
            if phrase.strip() and phrase not in current
            for i in where
        ]
        return self._emit([parent], shuffled(edits, rng), n)


def make_operator(name: str, **kwargs: Any) -> BaseOperator:
    """Build the operator registered as ``name`` with ``kwargs``.

    Example:
        >>> make_operator("swap", scope="instruction")
        SwapOperator(scope='instruction')
    """
    return operators.get(name)(**kwargs)

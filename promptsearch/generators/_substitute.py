"""Word substitution from a synonym table and, optionally, from the language model itself."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from promptsearch.exceptions import ConfigError, ModelError
from promptsearch.generators._candidate import Candidate
from promptsearch.generators._operators import BaseOperator, register_operator, shuffled
from promptsearch.generators._text import (
    WORD,
    Edit,
    check_scope,
    match_case,
    split_tokens,
    text_parts,
    with_text_part,
    word_indices,
)
from promptsearch.templates._template import FieldPart, TextPart, parse_template

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend

__all__ = ["DEFAULT_SYNONYMS", "SubstituteOperator"]

_logger = logging.getLogger(__name__)

_GROUPS: tuple[tuple[str, ...], ...] = (
    ("review", "text", "sentence", "comment", "passage"),
    ("sentiment", "feeling", "opinion", "attitude"),
    ("movie", "film"),
    ("classify", "label", "categorize"),
    ("positive", "favourable", "good"),
    ("negative", "unfavourable", "bad"),
    ("answer", "response", "reply"),
    ("determine", "decide", "identify"),
    ("topic", "subject", "category"),
    ("article", "story", "text"),
    ("question", "query"),
)


def _symmetric(groups: Sequence[Sequence[str]]) -> dict[str, tuple[str, ...]]:
    table: dict[str, dict[str, None]] = {}
    for group in groups:
        for word in group:
            table.setdefault(word, {}).update(dict.fromkeys(w for w in group if w != word))
    return {word: tuple(alts) for word, alts in table.items()}


#: Default synonym table: every word of a group may replace any other.
DEFAULT_SYNONYMS: dict[str, tuple[str, ...]] = _symmetric(_GROUPS)
_WHOLE_WORD = re.compile(r"[A-Za-z]{3,}\Z")
# How many of the most probable tokens to inspect for whole words at each position.
_SCAN = 2000


@dataclass(frozen=True)
class _Slot:
    """A word that may be replaced: in the instruction (``part`` = -1) or a template text part."""

    part: int
    tokens: tuple[str, ...]
    index: int
    start: int
    end: int

    @property
    def word(self) -> str:
        return self.tokens[self.index][self.start : self.end]

    def replaced(self, word: str) -> str:
        tokens = list(self.tokens)
        token = tokens[self.index]
        tokens[self.index] = token[: self.start] + word + token[self.end :]
        return "".join(tokens)

    def around(self) -> tuple[str, str]:
        """Text of the part before and after the word."""
        token = self.tokens[self.index]
        before = "".join(self.tokens[: self.index]) + token[: self.start]
        return before, token[self.end :] + "".join(self.tokens[self.index + 1 :])


class SubstituteOperator(BaseOperator):
    """Replaces one word of the instruction or of the template's text with an alternative.

    Alternatives come from ``synonyms`` (case-insensitive keys; the replacement takes the
    original's capitalization) and, when ``scorer`` is given, from the model: at up to
    ``max_positions`` random words, the most probable next tokens after the text before the
    word that are whole words of three or more letters. Causal scorers see the text before
    the word (template fields shown as ``...``); masked scorers also get the text after it.

    Args:
        synonyms: Word -> replacements; default :data:`DEFAULT_SYNONYMS`; ``{}`` for none.
        scorer: Optional :class:`~promptsearch.backends.LMBackend` proposing words (it needs
            next-token distributions).
        scope: ``"both"``, ``"instruction"`` or ``"template"``.
        max_positions: Words per :meth:`propose` call at which the model is asked.

    Example:
        >>> import numpy as np
        >>> out = SubstituteOperator({"film": ["movie"]}).propose(
        ...     Candidate("Rate the film.", "{text}{label}"), np.random.default_rng(0), 4)
        >>> [(c.instruction, c.detail) for c in out]
        [('Rate the movie.', "substitute 'film' -> 'movie'")]
    """

    name = "substitute"
    injected = ("scorer",)
    #: ``source`` setting: ``synonyms`` (the table only) or ``model`` (also the search's model).
    SOURCES: tuple[str, ...] = ("synonyms", "model")

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        return ("source", *super().setting_names())

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any], where: str) -> None:
        super().check_settings(settings, where)
        source = settings.get("source", "synonyms")
        if source not in cls.SOURCES:
            raise ConfigError(f"{where}.source: expected 'synonyms' or 'model', got {source!r}.")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], *, backend: LMBackend | None = None) -> BaseOperator:
        opts = dict(settings)
        if opts.pop("source", "synonyms") == "model":
            if backend is None:
                raise ConfigError("operators.substitute: source 'model' needs the search's model.")
            opts["scorer"] = backend
        return cls(**opts)

    def __init__(
        self,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        *,
        scorer: LMBackend | None = None,
        scope: str = "both",
        max_positions: int = 4,
    ) -> None:
        table = DEFAULT_SYNONYMS if synonyms is None else synonyms
        self.synonyms = {k.lower(): tuple(v) for k, v in table.items()}
        self.scorer = scorer
        self.scope = check_scope(scope)
        self.max_positions = max_positions

    def __repr__(self) -> str:
        model = f", scorer={type(self.scorer).__name__}" if self.scorer is not None else ""
        return f"SubstituteOperator(scope={self.scope!r}{model})"

    def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        slots = self._slots(parent)
        table_edits = [
            self._edit(parent, slot, match_case(alt, slot.word))
            for slot in slots
            for alt in self.synonyms.get(slot.word.lower(), ())
            if alt.lower() != slot.word.lower()
        ]
        edits = shuffled(table_edits, rng)
        if self.scorer is not None and n > 0:
            model_edits = self._model_edits(parent, slots, rng, n)
            # Interleave, so that both sources contribute when n is small.
            pairs = itertools.zip_longest(model_edits, edits)
            edits = [e for pair in pairs for e in pair if e is not None]
        return self._emit([parent], edits, n)

    def _slots(self, parent: Candidate) -> list[_Slot]:
        texts: list[tuple[int, str]] = []
        if self.scope in ("both", "instruction"):
            texts.append((-1, parent.instruction))
        if self.scope in ("both", "template"):
            texts += text_parts(parent.template)
        slots = []
        for part, text in texts:
            tokens = tuple(split_tokens(text))
            for i in word_indices(list(tokens)):
                m = WORD.search(tokens[i])
                if m:
                    slots.append(_Slot(part, tokens, i, m.start(), m.end()))
        return slots

    @staticmethod
    def _edit(parent: Candidate, slot: _Slot, word: str) -> Edit:
        detail = f"substitute {slot.word!r} -> {word!r}"
        if slot.part < 0:
            return Edit(slot.replaced(word), parent.template, detail)
        template = with_text_part(parent.template, slot.part, slot.replaced(word))
        return Edit(parent.instruction, template, detail)

    def _model_edits(
        self, parent: Candidate, slots: list[_Slot], rng: np.random.Generator, n: int
    ) -> list[Edit]:
        assert self.scorer is not None
        chosen: list[_Slot] = []
        contexts: list[str] = []
        suffixes: list[str] = []
        for i in rng.permutation(len(slots)):
            if len(chosen) >= self.max_positions:
                break
            context, suffix = _surroundings(parent, slots[int(i)])
            if context.strip():  # an empty context has nothing to condition on
                chosen.append(slots[int(i)])
                contexts.append(context)
                suffixes.append(suffix)
        if not chosen:
            return []
        if not self.scorer.capabilities.next_token_logprobs:
            raise ModelError(
                f"The {self.scorer.name!r} backend cannot propose words (no next-token distributions); "
                "use a causal or masked LM, or scorer=None to use the synonym table only."
            )
        dist = self.scorer.next_token_logprobs(contexts, suffixes, top_k=_SCAN)
        per_slot = [
            [
                self._edit(parent, slot, match_case(w, slot.word))
                for w in self._words(dist.vocabulary, row, slot.word, n)
            ]
            for slot, row in zip(chosen, dist.logprobs, strict=True)
        ]
        return [e for group in itertools.zip_longest(*per_slot) for e in group if e is not None]

    @staticmethod
    def _words(vocabulary: Sequence[str], row: np.ndarray, original: str, n: int) -> list[str]:
        """The ``n`` most probable whole-word tokens in ``row`` other than ``original``."""
        top = np.argsort(-row, kind="stable")[:_SCAN]
        words: list[str] = []
        for token_id in top:
            if not np.isfinite(row[token_id]):
                break
            text = vocabulary[int(token_id)]
            word = text.strip()
            if text.startswith(" ") and _WHOLE_WORD.match(word) and word.lower() != original.lower():
                words.append(word)
                if len(words) >= n:
                    break
        return words


def _surroundings(parent: Candidate, slot: _Slot) -> tuple[str, str]:
    """The prompt text before and after a word (fields shown as ``...``)."""
    before, after = slot.around()
    if slot.part < 0:
        return before, after
    parts = parse_template(parent.template)

    def show(p: object) -> str:
        return p.text if isinstance(p, TextPart) else "..." if isinstance(p, FieldPart) else ""

    head = parent.instruction + "\n\n" if parent.instruction.strip() else ""
    context = head + "".join(show(p) for p in parts[: slot.part]) + before
    return context, after + "".join(show(p) for p in parts[slot.part + 1 :])


register_operator(SubstituteOperator)

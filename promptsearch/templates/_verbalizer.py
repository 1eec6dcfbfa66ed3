"""Verbalizers: the label words that stand for each class."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from promptsearch.exceptions import VerbalizerError

__all__ = ["Verbalizer"]


@dataclass(frozen=True)
class Verbalizer:
    """Maps each label to one or more label words (words may span several tokens).

    Example:
        >>> v = Verbalizer.parse("bad|terrible,good|great", ("negative", "positive"))
        >>> v.words("positive")
        ('good', 'great')
    """

    labels: tuple[str, ...]
    label_words: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.label_words):
            raise VerbalizerError(
                f"Verbalizer has {len(self.labels)} labels but {len(self.label_words)} word lists."
            )
        for label, words in zip(self.labels, self.label_words):
            if not words or any(not w.strip() for w in words):
                raise VerbalizerError(
                    f"Label {label!r} has no label word (got {list(words)}); give at least one "
                    "non-empty word per label, e.g. --verbalizer 'negative,positive'."
                )
        owners: dict[str, str] = {}
        for label, words in zip(self.labels, self.label_words):
            for word in words:
                other = owners.setdefault(word.strip(), label)
                if other != label:
                    raise VerbalizerError(
                        f"Labels {other!r} and {label!r} both have the label word {word.strip()!r}, so the "
                        "model could never tell them apart; give each label its own words, e.g. "
                        "--verbalizer 'bad,good'."
                    )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str | Sequence[str]], labels: Sequence[str]) -> Verbalizer:
        """Build from ``{label: word or [words]}``, in the order of ``labels``."""
        unknown = [k for k in mapping if k not in labels]
        if unknown:
            raise VerbalizerError(
                f"Verbalizer names unknown label(s) {unknown}; the labels are {list(labels)}."
            )
        missing = [lab for lab in labels if lab not in mapping]
        if missing:
            raise VerbalizerError(
                f"Verbalizer has no word for label(s) {missing}; "
                f"give a word for every label of {list(labels)}."
            )
        words = []
        for lab in labels:
            value = mapping[lab]
            words.append((value,) if isinstance(value, str) else tuple(value))
        return cls(tuple(labels), tuple(tuple(w.strip() for w in ws) for ws in words))

    @classmethod
    def parse(cls, spec: str, labels: Sequence[str]) -> Verbalizer:
        """Parse ``"w1,w2,..."`` (one entry per label, in label order; ``|`` separates synonyms).

        ``"negative=bad|awful,positive=good"`` names the labels explicitly.
        """
        entries = [e.strip() for e in spec.split(",")]
        if all("=" in e for e in entries):
            return cls.from_mapping(
                {k.strip(): v.split("|") for k, v in (e.split("=", 1) for e in entries)}, labels
            )
        if len(entries) != len(labels):
            raise VerbalizerError(
                f"Verbalizer {spec!r} gives {len(entries)} word(s) but the task has {len(labels)} labels "
                f"{list(labels)}; give one entry per label, in that order."
            )
        return cls(tuple(labels), tuple(tuple(w.strip() for w in e.split("|")) for e in entries))

    def words(self, label: str) -> tuple[str, ...]:
        """Return the words of ``label``."""
        return self.label_words[self.labels.index(label)]

    def pairs(self) -> Iterator[tuple[int, str]]:
        """Yield ``(label index, word)`` for every word, in a fixed order."""
        for i, words in enumerate(self.label_words):
            for w in words:
                yield i, w

    def to_dict(self) -> dict[str, list[str]]:
        return {lab: list(ws) for lab, ws in zip(self.labels, self.label_words)}

    @property
    def id(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict()).encode()).hexdigest()[:12]

    def __str__(self) -> str:
        return ",".join("|".join(ws) for ws in self.label_words)

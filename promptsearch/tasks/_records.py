"""Plain records for labelled examples, tasks and few-shot splits."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from promptsearch.exceptions import DataError

__all__ = ["Example", "FewShotSplit", "Task", "example_id", "shorten_text"]

_WORD = re.compile(r"\S+")


def example_id(inputs: Mapping[str, str], label: str) -> str:
    """Content hash of an example: identical on every machine and run."""
    payload = json.dumps({"inputs": dict(sorted(inputs.items())), "label": label}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def shorten_text(text: str, max_words: int) -> str:
    """The first ``max_words`` whitespace-separated words of ``text``, layout between them kept.

    >>> shorten_text("One two\nthree four", 3)
    'One two\nthree'
    """
    last_end = 0
    for i, match in enumerate(_WORD.finditer(text)):
        if i == max_words:
            return text[:last_end]
        last_end = match.end()
    return text


@dataclass(frozen=True)
class Example:
    """One labelled example.

    Attributes:
        id: Stable identifier (a content hash unless the source provides one).
        inputs: Input fields by name, e.g. ``{"text": "A gripping film."}``.
        label: The label name, one of the task's ``label_names``.
    """

    id: str
    inputs: Mapping[str, str]
    label: str

    @classmethod
    def create(cls, inputs: Mapping[str, str], label: str, id: str | None = None) -> Example:
        """Build an example, hashing its content into an id when none is given."""
        clean = {str(k): "" if v is None else str(v) for k, v in inputs.items()}
        return cls(id=id if id is not None else example_id(clean, str(label)), inputs=clean, label=str(label))

    def __hash__(self) -> int:
        return hash(self.id)

    def shorten(self, max_words: int) -> Example:
        """Keep the first ``max_words`` words of every input field.

        An example that changes gets the id ``"<id>~w<max_words>"``, so that scores cached for
        the full text are never mistaken for scores of the short one; others are returned as is.
        """
        inputs = {name: shorten_text(value, max_words) for name, value in self.inputs.items()}
        if inputs == dict(self.inputs):
            return self
        return Example(id=f"{self.id}~w{max_words}", inputs=inputs, label=self.label)


@dataclass(frozen=True)
class Task:
    """A classification task: its examples and how to talk about them.

    Attributes:
        name: Short name (a catalog name or a file stem).
        input_fields: Names of the input fields every example has.
        label_names: The labels, in a fixed order (index = class id).
        examples: All labelled examples (splits are made from these).
        default_verbalizer: Label name -> label words used when none is given.
        default_template: A sensible starting template for the task.
        metric: Name of the metric to optimize (see :mod:`promptsearch.evaluation`).
        description: One line for listings.
        test_size: Size of the fixed test set carved out before any few-shot split.
    """

    name: str
    input_fields: tuple[str, ...]
    label_names: tuple[str, ...]
    examples: tuple[Example, ...]
    default_verbalizer: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_template: str = ""
    metric: str = "accuracy"
    description: str = ""
    test_size: int | None = None

    def __post_init__(self) -> None:
        if not self.label_names:
            raise DataError(f"Task {self.name!r} has no labels; give at least two label names.")
        if len(set(self.label_names)) != len(self.label_names):
            raise DataError(f"Task {self.name!r} has duplicate label names: {self.label_names}.")
        known = set(self.label_names)
        for ex in self.examples:
            if ex.label not in known:
                raise DataError(
                    f"Example {ex.id} of task {self.name!r} has label {ex.label!r}, which is not one of "
                    f"{list(self.label_names)}; fix the data or the label names."
                )

    def template_or_default(self) -> str:
        """The task's default template, or a generic one over its input fields."""
        if self.default_template:
            return self.default_template
        body = "\n".join(f"{f.replace('_', ' ').capitalize()}: {{{f}}}" for f in self.input_fields)
        return body + "\nAnswer:{label}"

    def verbalizer_or_default(self) -> dict[str, tuple[str, ...]]:
        """The task's default label words, or the label names themselves."""
        if self.default_verbalizer:
            return {k: tuple(v) for k, v in self.default_verbalizer.items()}
        return {label: (label.replace("_", " "),) for label in self.label_names}

    def label_index(self, label: str) -> int:
        """Return the class index of ``label``."""
        return self.label_names.index(label)

    def with_examples(self, examples: Sequence[Example]) -> Task:
        """Return a copy of this task holding ``examples`` instead."""
        return replace(self, examples=tuple(examples))


@dataclass(frozen=True)
class FewShotSplit:
    """Train, dev and test examples of one few-shot split (LM-BFF protocol).

    ``train`` and ``dev`` hold ``k`` examples per class chosen by ``seed``; ``test`` is the
    task's fixed test set, disjoint from every train and dev split of every seed.
    """

    task: Task
    k: int
    seed: int
    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]

    def get(self, name: str) -> tuple[Example, ...]:
        """Return the split called ``name`` (``train``, ``dev`` or ``test``)."""
        if name not in ("train", "dev", "test"):
            raise DataError(f"Unknown split {name!r}; use 'train', 'dev' or 'test'.")
        examples: tuple[Example, ...] = getattr(self, name)
        if not examples:
            raise DataError(
                f"The {name} split of task {self.task.name!r} (k={self.k}, seed={self.seed}) is empty; "
                "use a larger data set or a smaller k."
            )
        return examples

    def shorten(self, max_words: int | None) -> FewShotSplit:
        """Return the split with every input field cut to its first ``max_words`` words.

        Long documents (news articles) make every prompt slow to score; their first words
        usually carry the class. The cut is applied after the split is drawn, so the same
        examples are chosen with and without it. ``None`` returns the split unchanged.
        """
        if max_words is None:
            return self
        if max_words < 1:
            raise DataError(f"max_words must be at least 1, got {max_words}; use None to keep whole texts.")
        return replace(
            self,
            train=tuple(ex.shorten(max_words) for ex in self.train),
            dev=tuple(ex.shorten(max_words) for ex in self.dev),
            test=tuple(ex.shorten(max_words) for ex in self.test),
        )

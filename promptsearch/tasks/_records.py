"""Plain records for examples, tasks and few-shot splits.

An example carries its input fields and what is expected of it: a class label
(classification), its own answer choices and the correct one (multiple choice), or one or
more reference texts (generation). The task type says which (see
:mod:`promptsearch.tasks._types`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from promptsearch.exceptions import DataError
from promptsearch.tasks._kinds import TaskType, task_types

__all__ = ["Example", "FewShotSplit", "Task", "example_id", "shorten_text"]

_WORD = re.compile(r"\S+")


def example_id(
    inputs: Mapping[str, str], label: str, choices: Sequence[str] = (), references: Sequence[str] = ()
) -> str:
    """Content hash of an example: identical on every machine and run.

    Choices and references enter the hash only when present, so labelled examples keep the ids
    they always had.
    """
    content: dict[str, object] = {"inputs": dict(sorted(inputs.items())), "label": label}
    if choices:
        content["choices"] = list(choices)
    if references:
        content["references"] = list(references)
    payload = json.dumps(content, ensure_ascii=False)
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
    """One example and what is expected of it.

    Attributes:
        id: Stable identifier (a content hash unless the source provides one).
        inputs: Input fields by name, e.g. ``{"text": "A gripping film."}``.
        label: Classification: the label name, one of the task's ``label_names``. Multiple
            choice: the correct choice (one of ``choices``). Generation: empty.
        choices: Multiple choice: this example's answer choices, in order.
        references: Generation: the acceptable outputs (at least one).
    """

    id: str
    inputs: Mapping[str, str]
    label: str = ""
    choices: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    @classmethod
    def create(
        cls,
        inputs: Mapping[str, str],
        label: str = "",
        id: str | None = None,
        *,
        choices: Sequence[str] = (),
        references: Sequence[str] = (),
    ) -> Example:
        """Build an example, hashing its content into an id when none is given.

        Example:
            >>> Example.create({"question": "2 + 2?"}, references=["4", "four"]).references
            ('4', 'four')
        """
        clean = {str(k): "" if v is None else str(v) for k, v in inputs.items()}
        opts, refs = tuple(str(c) for c in choices), tuple(str(r) for r in references)
        ident = id if id is not None else example_id(clean, str(label), opts, refs)
        return cls(id=ident, inputs=clean, label=str(label), choices=opts, references=refs)

    @property
    def answer(self) -> str:
        """The expected output as text: the label or correct choice, else the first reference."""
        return self.label if self.label or not self.references else self.references[0]

    @property
    def choice_index(self) -> int:
        """Index of the correct choice (multiple choice)."""
        return self.choices.index(self.label)

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
        return replace(self, id=f"{self.id}~w{max_words}", inputs=inputs)


@dataclass(frozen=True)
class Task:
    """A task: its examples, its type and how to talk about them.

    Attributes:
        name: Short name (a catalog name or a file stem).
        input_fields: Names of the input fields every example has.
        label_names: Classification: the labels, in a fixed order (index = class id); empty
            for the other task types.
        examples: All examples (splits are made from these).
        default_verbalizer: Label name -> label words used when none is given.
        default_template: A sensible starting template for the task.
        metric: Name of the metric to optimize (see :mod:`promptsearch.metrics`); ``""`` takes
            the task type's default (accuracy, or exact match for generation).
        description: One line for listings.
        test_size: Size of the fixed test set carved out before any few-shot split.
        task_type: ``classification``, ``multiple_choice`` or ``generation`` (see
            :data:`promptsearch.tasks.task_types`).
        max_new_tokens: Generation: the longest answer worth generating, in tokens (``None``:
            the backend's default of 32).
        stop: Generation: the answer ends before the first of these strings (``None``: a
            newline or the demonstration separator).
    """

    name: str
    input_fields: tuple[str, ...]
    label_names: tuple[str, ...]
    examples: tuple[Example, ...]
    default_verbalizer: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_template: str = ""
    metric: str = ""
    description: str = ""
    test_size: int | None = None
    task_type: str = "classification"
    max_new_tokens: int | None = None
    stop: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        kind = task_types.get(self.task_type)
        kind.check_task(self)
        if not self.metric:
            object.__setattr__(self, "metric", kind.default_metric)

    @property
    def kind(self) -> TaskType:
        """The :class:`~promptsearch.tasks.TaskType` object of :attr:`task_type`."""
        return task_types.get(self.task_type)

    def template_or_default(self) -> str:
        """The task's default template, or a generic one over its input fields."""
        if self.default_template:
            return self.default_template
        return self.kind.generic_template(self.input_fields)

    def verbalizer_or_default(self) -> dict[str, tuple[str, ...]]:
        """The task's default label words, or the label names themselves."""
        if self.default_verbalizer:
            return {k: tuple(v) for k, v in self.default_verbalizer.items()}
        return {label: (label.replace("_", " "),) for label in self.label_names}

    def target_index(self, example: Example) -> int:
        """The expected class index (classification) or choice index (multiple choice)."""
        return example.choice_index if example.choices else self.label_index(example.label)

    def label_index(self, label: str) -> int:
        """Return the class index of ``label``."""
        return self.label_names.index(label)

    def with_examples(self, examples: Sequence[Example]) -> Task:
        """Return a copy of this task holding ``examples`` instead."""
        return replace(self, examples=tuple(examples))


@dataclass(frozen=True)
class FewShotSplit:
    """Train, dev, confirmation and test examples of one split.

    ``k_shot`` splits (LM-BFF protocol) hold ``k`` examples per class in ``train`` and in
    ``dev``; ``data`` splits (a user's own file) hold ``k`` per class in ``train`` (where label
    words are fitted and demonstrations drawn) and a sample of the data's own class balance in
    ``dev`` (where prompts are compared). ``confirm`` is a further sample of the data's balance
    that no fitting and no selection sees: the winner must not lose to the user's template
    there. ``test`` is the task's fixed test set, disjoint from every other part of every seed.

    Attributes:
        strategy: ``k_shot`` or ``data`` (how ``dev`` was drawn).
        shares: Class shares of every labelled example outside test (the data's balance;
            empty for task types without classes).
    """

    task: Task
    k: int
    seed: int
    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]
    confirm: tuple[Example, ...] = ()
    strategy: str = "k_shot"
    shares: tuple[float, ...] = ()

    def get(self, name: str) -> tuple[Example, ...]:
        """Return the split called ``name`` (``train``, ``dev`` or ``test``)."""
        if name not in ("train", "dev", "test", "confirm"):
            raise DataError(f"Unknown split {name!r}; use 'train', 'dev', 'confirm' or 'test'.")
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
            confirm=tuple(ex.shorten(max_words) for ex in self.confirm),
        )

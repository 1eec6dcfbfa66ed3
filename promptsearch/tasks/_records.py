"""Plain records for labelled examples, tasks and few-shot splits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from promptsearch.exceptions import DataError

__all__ = ["Example", "FewShotSplit", "Task", "example_id"]


def example_id(inputs: Mapping[str, str], label: str) -> str:
    """Content hash of an example: identical on every machine and run."""
    payload = json.dumps({"inputs": dict(sorted(inputs.items())), "label": label}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


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
        from dataclasses import replace

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

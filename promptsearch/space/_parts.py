"""What a search varies: the task, split, templates, verbalizers and demonstrations sections.

The run-control sections live in :mod:`promptsearch.space._run`. Each section checks
its own fields in ``__post_init__``; messages name the section's path in a search-space file
(``demonstrations.counts[2]``) and say how to fix the value.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from promptsearch._limits import MAX_DEMONSTRATIONS, max_demonstrations
from promptsearch._registry import suggest
from promptsearch.demonstrations import DEFAULT_ORDER, DEFAULT_SELECTION
from promptsearch.exceptions import ConfigError, TemplateError
from promptsearch.space._validate import Section, at_least, build, distinct
from promptsearch.templates import parse_template

if TYPE_CHECKING:
    from promptsearch.generators import TemplateGrammar
    from promptsearch.tasks import FewShotSplit, Task
    from promptsearch.templates import Prompt, Verbalizer

__all__ = [
    "MAX_DEMONSTRATIONS",
    "AutoVerbalizerSpec",
    "DemoSpace",
    "GrammarSpec",
    "SeedTemplate",
    "SplitSpec",
    "TaskSpec",
    "TemplateSpace",
    "VerbalizerSpace",
]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class TaskSpec(Section):
    """The task: a catalog name or a data file, with loading options for files.

    A plain string is shorthand for ``TaskSpec(name_or_path=...)``.
    """

    _section: ClassVar[str | None] = "task"
    _accepts_str: ClassVar[bool] = True

    name_or_path: str = field(metadata={"help": "Catalog task name, data file, folder or hub dataset id."})
    text_fields: tuple[str, ...] | Mapping[str, str] | None = field(
        default=None,
        metadata={"help": "Input columns (list), or column -> field name (mapping); None guesses."},
    )
    label_field: str = field(default="label", metadata={"help": "Column holding the labels."})
    label_names: tuple[str, ...] | None = field(
        default=None, metadata={"help": "Labels in class order (None: sorted unique labels)."}
    )
    max_words: int | None = field(
        default=None,
        metadata={
            "help": "Keep the first N words of every input (long documents score much faster); "
            "None keeps whole texts. Applied to train, dev and test alike."
        },
    )
    target_field: str | None = field(
        default=None,
        metadata={"help": "Generation: the column of reference texts (a text or a list per row)."},
    )
    choices_field: str | None = field(
        default=None,
        metadata={"help": "Multiple choice: the column of each row's answer choices (default: choices)."},
    )
    task_type: str | None = field(
        default=None,
        metadata={
            "help": "classification, multiple_choice or generation (None: the catalog's, "
            "else classification)."
        },
    )

    def __post_init__(self) -> None:
        from promptsearch.tasks import task_types

        self._normalize()
        if not self.name_or_path.strip():
            raise self._fail("name_or_path", "must not be empty; give a catalog name or a data file.")
        at_least(self, "max_words", 1, optional=True)
        if self.task_type is not None and self.task_type not in task_types:
            hint = suggest(self.task_type, task_types.names())
            raise self._fail("task_type", f"unknown task type {self.task_type!r}. {hint}")
        if self.label_names is not None and (len(self.label_names) < 2 or len(set(self.label_names)) < 2):
            got = list(self.label_names)
            raise self._fail("label_names", f"needs at least two distinct labels, got {got}.")
        self._check_catalog_typo()
        if self._catalog_labels() is not None and self.loader_kwargs():
            raise ConfigError(
                f"task: catalog task {self.name_or_path!r} takes no loading options (text_fields, "
                "label_field, label_names, target_field, choices_field); write just `task: "
                + self.name_or_path
                + "` (max_words is allowed)."
            )
        if self._catalog_labels() is not None and self.task_type not in (None, self.kind()):
            raise self._fail("task_type", f"catalog task {self.name_or_path!r} is a {self.kind()} task.")

    def _check_catalog_typo(self) -> None:
        """Reject a bare name that is no path but nearly a catalog name, as ``load_task`` does."""
        from promptsearch.tasks._catalog import CATALOG

        name = self.name_or_path
        if name in CATALOG or "/" in name or "\\" in name or Path(name).expanduser().exists():
            return
        if difflib.get_close_matches(name, CATALOG.names(), n=1, cutoff=0.8):
            raise self._fail("name_or_path", f"unknown task {name!r}. {suggest(name, CATALOG.names())}")

    def _is_plain(self) -> bool:
        """Whether only ``name_or_path`` is set (then the task is written as a plain string)."""
        return self.max_words is None and self.task_type is None and not self.loader_kwargs()

    def loader_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`promptsearch.tasks.load_task` (none for catalog tasks)."""
        out: dict[str, Any] = {}
        if self.text_fields is not None or self.label_field != "label" or self.label_names is not None:
            text_fields = (
                dict(self.text_fields) if isinstance(self.text_fields, Mapping) else self.text_fields
            )
            out = {
                "text_fields": text_fields,
                "label_field": self.label_field,
                "label_names": self.label_names,
            }
        extra = {"target_field": self.target_field, "choices_field": self.choices_field}
        if self._catalog_labels() is None:
            extra["task_type"] = self.task_type
        return {**out, **{k: v for k, v in extra.items() if v is not None}}

    def _catalog_labels(self) -> tuple[str, ...] | None:
        from promptsearch.tasks._catalog import CATALOG  # Lazy: keeps this module light to import.

        return CATALOG.get(self.name_or_path).labels if self.name_or_path in CATALOG else None

    def is_catalog(self) -> bool:
        """Whether the task is a catalog task (else the user's own file, folder or hub data set)."""
        from promptsearch.tasks._catalog import CATALOG

        return self.name_or_path in CATALOG

    def kind(self) -> str | None:
        """The task type when known without loading the data (the catalog's, or given)."""
        from promptsearch.tasks._catalog import CATALOG

        if self.name_or_path in CATALOG:
            return CATALOG.get(self.name_or_path).task_type
        if self.task_type is not None:
            return self.task_type
        return "generation" if self.target_field is not None else None

    def field_names(self) -> tuple[str, ...] | None:
        """The task's input field names when known without loading the data, else ``None``."""
        if self._catalog_labels() is not None:
            return ("text",)
        if isinstance(self.text_fields, Mapping):
            return tuple(self.text_fields.values())
        return self.text_fields

    def labels(self) -> tuple[str, ...] | None:
        """The task's labels when known without loading the data, else ``None``."""
        return self._catalog_labels() or self.label_names

    @classmethod
    def _from_value(cls, value: Any, path: str) -> TaskSpec:
        return build(cls, {"name_or_path": value} if isinstance(value, str) else value, path)

    def _to_value(self) -> Any:
        return self.name_or_path if self._is_plain() else self.to_dict()


@dataclass(frozen=True)
class SplitSpec(Section):
    """How the labelled examples are split, chosen by ``seed``.

    ``strategy: k_shot`` (LM-BFF) takes ``k`` training and ``k`` dev examples per class: the
    dev set is balanced. ``strategy: data`` takes ``k`` training examples per class and a dev
    set of up to ``size`` examples at the data's own class shares (``min_per_class`` each at
    least), so that prompts are compared on data like the user's. ``auto`` (the default):
    ``data`` for a task read from a file or a hub data set, ``k_shot`` for a catalog task or a
    :class:`~promptsearch.tasks.Task` object. Either keeps ``confirm`` examples, at the data's
    shares, that no fitting and no selection sees: the winner must not lose to your template
    there (0: no confirmation; the ``--seeds`` protocol uses none).
    """

    _section: ClassVar[str | None] = "split"

    k: int = field(default=16, metadata={"help": "Training examples per class (k_shot: dev gets as many)."})
    seed: int = field(default=13, metadata={"help": "Seed of the split (0 is a valid seed)."})
    strategy: str = field(default="auto", metadata={"help": "auto, k_shot or data."})
    size: int = field(default=400, metadata={"help": "data: dev examples at the data's class shares."})
    min_per_class: int = field(default=8, metadata={"help": "data: dev examples per class at least."})
    confirm: int = field(
        default=200, metadata={"help": "Confirmation examples at the data's class shares (0: none)."}
    )

    def __post_init__(self) -> None:
        from promptsearch.tasks import SPLIT_STRATEGIES

        self._normalize()
        at_least(self, "k", 1)
        at_least(self, "seed", 0)
        at_least(self, "size", 1)
        at_least(self, "min_per_class", 0)
        at_least(self, "confirm", 0)
        choices = ("auto", *SPLIT_STRATEGIES)
        if self.strategy not in choices:
            raise self._fail(
                "strategy", f"unknown value {self.strategy!r}. {suggest(str(self.strategy), choices)}"
            )

    def make(self, task: Task, *, seed: int | None = None, from_file: bool = False) -> FewShotSplit:
        """The split of ``task`` (``seed`` overrides this section's; ``from_file``: the task is
        the user's own data, which ``auto`` splits by the data's balance)."""
        from promptsearch.tasks import data_split, few_shot_split

        seed = self.seed if seed is None else seed
        strategy = self.strategy if self.strategy != "auto" else ("data" if from_file else "k_shot")
        if strategy == "data":
            return data_split(
                task,
                k=self.k,
                seed=seed,
                size=self.size,
                min_per_class=self.min_per_class,
                confirm=self.confirm,
            )
        return few_shot_split(task, k=self.k, seed=seed, confirm=self.confirm)


@dataclass(frozen=True)
class SeedTemplate(Section):
    """A starting template, optionally with an instruction (plain text placed once before the
    demonstrations and the query).

    A plain string is shorthand for ``SeedTemplate(template=...)``.
    """

    _section: ClassVar[str | None] = None  # A list item: build() prefixes its path.
    _accepts_str: ClassVar[bool] = True

    template: str = field(
        metadata={"help": "Template with {field} slots and one {label} (none for generation tasks)."}
    )
    instruction: str = field(
        default="", metadata={"help": "Plain-text instruction placed before demonstrations and query."}
    )

    def __post_init__(self) -> None:
        self._normalize()
        try:
            parse_template(self.template)  # The slot the task type needs is checked with the task.
        except TemplateError as exc:
            raise self._fail("template", f"invalid seed template {self.template!r}: {exc}") from None

    @classmethod
    def _from_value(cls, value: Any, path: str) -> SeedTemplate:
        return build(cls, {"template": value} if isinstance(value, str) else value, path)

    def _to_value(self) -> Any:
        return self.to_dict() if self.instruction else self.template

    def prompt(self, verbalizer: Verbalizer | None = None, *, generation: bool = False) -> Prompt:
        """This seed as a zero-shot prompt with ``verbalizer`` (``generation``: the template
        has no answer slot)."""
        from promptsearch.templates import Prompt, Template

        return Prompt(
            Template(self.template, generation=generation), verbalizer, instruction=self.instruction
        )


@dataclass(frozen=True)
class GrammarSpec(Section):
    """Templates composed from one phrase per slot (see ``promptsearch.generators.TemplateGrammar``).

    A candidate is the instruction plus the template ``input_prefix + "{field}" + connector +
    answer_prefix + "{label}"``. Phrases are plain text (braces in them are escaped).
    """

    _section: ClassVar[str | None] = "templates.grammar"
    _SLOTS: ClassVar[tuple[str, ...]] = ("instruction", "input_prefix", "connector", "answer_prefix")

    instruction: tuple[str, ...] = field(metadata={"help": "Instructions ('' for none)."})
    input_prefix: tuple[str, ...] = field(metadata={"help": "Text before the input, e.g. 'Review: '."})
    connector: tuple[str, ...] = field(metadata={"help": "Text between input and answer, e.g. '\\n'."})
    answer_prefix: tuple[str, ...] = field(metadata={"help": "Text before the label word ('Sentiment:')."})
    field: str = field(default="text", metadata={"help": "The input field the templates use."})

    def __post_init__(self) -> None:
        self._normalize()
        if not _IDENT.match(self.field):
            raise self._fail("field", f"must be a plain field name like 'text', got {self.field!r}.")
        if self.field == "label":
            raise self._fail("field", "'label' is the label slot, not an input field; use e.g. 'text'.")
        for slot in self._SLOTS:
            distinct(self, slot)

    @property
    def size(self) -> int:
        """Number of phrase combinations."""
        return math.prod(len(getattr(self, slot)) for slot in self._SLOTS)

    def grammar(self, answer_slot: bool = True) -> TemplateGrammar:
        """The grammar these phrases make (``answer_slot``: the task type's)."""
        from promptsearch.generators import TemplateGrammar

        return TemplateGrammar(
            instruction=tuple(self.instruction),
            input_prefix=tuple(self.input_prefix),
            connector=tuple(self.connector),
            answer_prefix=tuple(self.answer_prefix),
            fields=(self.field,),
            answer_slot=answer_slot,
        )


@dataclass(frozen=True)
class TemplateSpace(Section):
    """Where candidate templates come from: seed templates and/or a grammar."""

    _section: ClassVar[str | None] = "templates"

    seeds: tuple[SeedTemplate, ...] = field(
        default=(), metadata={"help": "Starting templates (strings or {instruction, template})."}
    )
    grammar: GrammarSpec | None = field(
        default=None, metadata={"help": "Slot alternatives composed into more templates."}
    )
    n_initial: int = field(
        default=24, metadata={"help": "Templates in the initial pool (seeds first, then grammar samples)."}
    )

    def __post_init__(self) -> None:
        self._normalize()
        if not self.seeds and self.grammar is None:
            raise ConfigError("templates: give at least one seed template (`seeds:`) or a `grammar:`.")
        keys = [(s.instruction, s.template) for s in self.seeds]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                raise self._fail(f"seeds[{i}]", f"repeats seed {keys.index(key)} ({key[1]!r}); keep one.")
        at_least(self, "n_initial", 1)

    def first(self, answer_slot: bool = True) -> SeedTemplate:
        """The user's own template: the first seed, or (a space with a grammar only) the
        grammar's first combination, the first phrase of every slot."""
        if self.seeds:
            return self.seeds[0]
        assert self.grammar is not None  # checked in __post_init__
        first = self.grammar.grammar(answer_slot).candidate(0)
        return SeedTemplate(template=first.template, instruction=first.instruction)


@dataclass(frozen=True)
class AutoVerbalizerSpec(Section):
    """Automatic label-word search: proposes words per label from the training examples."""

    _section: ClassVar[str | None] = "verbalizers.auto"

    enabled: bool = field(
        default=False, metadata={"help": "Add automatically found verbalizers to the candidates."}
    )
    words_per_label: int = field(default=8, metadata={"help": "Candidate words kept per label."})
    candidates: int = field(default=4, metadata={"help": "Automatic verbalizers added to the candidates."})

    def __post_init__(self) -> None:
        self._normalize()
        at_least(self, "words_per_label", 1)
        at_least(self, "candidates", 1)


@dataclass(frozen=True)
class VerbalizerSpace(Section):
    """Verbalizer candidates: ``"negative,positive"`` (label order), ``"bad|awful,good"`` (synonyms)."""

    _section: ClassVar[str | None] = "verbalizers"

    candidates: tuple[str, ...] = field(
        default=(), metadata={"help": "Verbalizers to try; empty: the task's default verbalizer."}
    )
    auto: AutoVerbalizerSpec = field(
        default_factory=AutoVerbalizerSpec, metadata={"help": "Automatic label-word search."}
    )

    def __post_init__(self) -> None:
        self._normalize()
        for i, spec in enumerate(self.candidates):
            entries = [e.strip() for e in spec.split(",")]
            named = ["=" in e for e in entries]
            pieces = [e.partition("=") for e in entries]
            words = [w.strip() for k, eq, v in pieces for w in (v if eq else k).split("|")]
            labels_ok = all(k.strip() for k, eq, _ in pieces if eq)
            if len(entries) < 2 or not all(words) or not labels_ok or any(named) != all(named):
                raise self._fail(
                    f"candidates[{i}]",
                    f"{spec!r} is not a verbalizer; write one entry per label in label order, separated by "
                    "commas, with '|' between synonyms (e.g. 'bad|awful,good'), or 'label=word,...'.",
                )
        if self.candidates:
            distinct(self, "candidates")


@dataclass(frozen=True)
class DemoSpace(Section):
    """In-context demonstrations: how many, how they are chosen and ordered."""

    _section: ClassVar[str | None] = "demonstrations"

    counts: tuple[int, ...] = field(
        default=(0,), metadata={"help": f"Demonstrations per prompt to try (0..{MAX_DEMONSTRATIONS})."}
    )
    selection: tuple[str, ...] = field(
        default=(DEFAULT_SELECTION,), metadata={"help": "Selection: random; similar (needs embeddings)."}
    )
    order: tuple[str, ...] = field(
        default=(DEFAULT_ORDER,), metadata={"help": "Order: random, by_label or similar_last."}
    )
    seeds: int = field(default=3, metadata={"help": "Different demonstration draws tried per setting."})
    embedder: str = field(
        default="tfidf",
        metadata={
            "help": "How `similar` compares texts: tfidf, all-minilm-l6-v2 (a sentence encoder "
            "fetched once), or a local folder / hub id of a sentence-embedding model."
        },
    )

    def __post_init__(self) -> None:
        self._normalize()
        if not self.embedder.strip():
            raise self._fail("embedder", "must not be empty; use 'tfidf' or a sentence encoder.")
        from promptsearch.demonstrations import orders, selections

        for name in ("counts", "selection", "order"):
            distinct(self, name)
        for name, registry in (("selection", selections), ("order", orders)):
            for i, value in enumerate(getattr(self, name)):
                if value not in registry:
                    hint = suggest(str(value), registry.names())
                    raise self._fail(
                        f"{name}[{i}]", f"unknown value {value!r} (no such {registry.kind}). {hint}"
                    )
        limit = max_demonstrations()
        for i, count in enumerate(self.counts):
            if not 0 <= count <= limit:
                raise self._fail(
                    f"counts[{i}]",
                    f"must be between 0 and {limit}, got {count} (more demonstrations outgrow small models' "
                    "context windows; PROMPTSEARCH_MAX_DEMONSTRATIONS raises the limit).",
                )
        at_least(self, "seeds", 1)

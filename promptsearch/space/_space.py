"""The declarative search space: what a prompt search may try, as frozen dataclasses.

A search space is usually a YAML file (see ``search_spaces/`` in the repository) loaded with
:func:`load_search_space`; the same object can be built in Python. Every section validates
itself in ``__post_init__`` (see :mod:`promptsearch.space._validate`), so both routes
get the same checks and the same error messages, which name the dotted path of the bad value.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from promptsearch._registry import suggest
from promptsearch.exceptions import ConfigError, TemplateError, VerbalizerError
from promptsearch.space._parts import (
    DemoSpace,
    SplitSpec,
    TaskSpec,
    TemplateSpace,
    VerbalizerSpace,
)
from promptsearch.space._run import (
    BackendSpec,
    BudgetSpec,
    EvolutionSpec,
    FinalSpec,
    GenerationSpec,
    OperatorsSpec,
    PrunerSpec,
    SamplerSpec,
    SelectionSpec,
)
from promptsearch.space._tuning import TuningSpace
from promptsearch.space._validate import Section, build, coerce
from promptsearch.space._yaml import read_yaml
from promptsearch.templates import Prompt, Template, Verbalizer

__all__ = ["SUPPORTED_VERSION", "SearchSpace", "load_search_space"]

SUPPORTED_VERSION = 1
"""The search-space file format this promptsearch reads."""

# Kept in sync with promptsearch.models (not imported here: that would import torch).
_DEFAULT_MODEL = "smollm2-135m-instruct"
Dtype = Literal["auto", "fast", "float32", "bfloat16", "float16", "fp32", "bf16", "fp16", "float", "half"]


@dataclass(frozen=True, kw_only=True)
class SearchSpace(Section):
    """Everything a prompt search may try on one task, and how long it may try.

    Build it from YAML with :func:`load_search_space` (or :meth:`from_yaml`), or in Python.
    Strings and plain mappings are accepted where a section is expected and are converted
    (``task="movies"``, ``seeds=("Review: {text}\\nSentiment:{label}",)``).

    Example:
        >>> space = SearchSpace(
        ...     version=1,
        ...     task="movies",
        ...     templates=TemplateSpace(seeds=(SeedTemplate("Review: {text}\\nSentiment:{label}"),)),
        ... )
        >>> space.require_task().name_or_path, space.split.k, space.calibration_choices()
        ('movies', 16, (False, True))
        >>> SearchSpace.from_dict(space.to_dict()) == space
        True
    """

    _section: ClassVar[str | None] = ""

    version: int = field(metadata={"help": f"File format version; must be {SUPPORTED_VERSION}."})
    name: str = field(default="search", metadata={"help": "Name of the space (default: the file stem)."})
    task: TaskSpec | None = field(
        default=None,
        metadata={
            "help": "Catalog name, data file, or {name_or_path, text_fields, label_field, label_names}; "
            "may be left out and given later with with_task() (the --task option)."
        },
    )
    model: str = field(default=_DEFAULT_MODEL, metadata={"help": "Catalog model name, hub id or folder."})
    backend: BackendSpec = field(
        default_factory=BackendSpec,
        metadata={"help": "The backend that runs the model: hf (default), fake, or a registered plugin."},
    )
    metric: str | None = field(
        default=None,
        metadata={"help": "The metric the study optimizes (see promptsearch.metrics); null: the task's."},
    )
    dtype: Dtype = field(
        default="auto",
        metadata={
            "help": "Model dtype: auto, fast (bfloat16 where the hardware computes it), float32, "
            "bfloat16 or float16."
        },
    )
    batch_size: int | None = field(default=None, metadata={"help": "Scoring batch size (None: automatic)."})
    split: SplitSpec = field(
        default_factory=SplitSpec, metadata={"help": "Few-shot split (k per class, seed)."}
    )
    templates: TemplateSpace = field(metadata={"help": "Seed templates and/or a template grammar."})
    verbalizers: VerbalizerSpace = field(
        default_factory=VerbalizerSpace, metadata={"help": "Label-word candidates to try."}
    )
    demonstrations: DemoSpace = field(
        default_factory=DemoSpace, metadata={"help": "In-context demonstration settings to try."}
    )
    calibration: tuple[bool, ...] | None = field(
        default=None,
        metadata={
            "help": "Whether to try contextual calibration (off and/or on); null: both for "
            "classification, off for the other task types."
        },
    )
    operators: OperatorsSpec = field(
        default_factory=OperatorsSpec, metadata={"help": "Template edit operators and their settings."}
    )
    evolution: EvolutionSpec = field(default_factory=EvolutionSpec, metadata={"help": "Template evolution."})
    budget: BudgetSpec = field(default_factory=BudgetSpec, metadata={"help": "Trial and time budget."})
    sampler: SamplerSpec = field(default_factory=SamplerSpec, metadata={"help": "Optuna sampler."})
    pruner: PrunerSpec = field(default_factory=PrunerSpec, metadata={"help": "Optuna pruner."})
    selection: SelectionSpec = field(
        default_factory=SelectionSpec,
        metadata={"help": "Selection examples, the winner rule against the baseline, ensembles."},
    )
    final: FinalSpec = field(default_factory=FinalSpec, metadata={"help": "Final evaluation on test."})
    generation: GenerationSpec = field(
        default_factory=GenerationSpec,
        metadata={"help": "Generation tasks: max_new_tokens and stop strings (null: the task's)."},
    )
    tuning: TuningSpace = field(
        default_factory=TuningSpace,
        metadata={
            "help": "Soft prompts and prompt-based tuning in the same study: `modes` (none, "
            "prompt_tuning, bbt, lora, full) and per mode its hyperparameters' values or ranges."
        },
    )

    def __post_init__(self) -> None:
        self._normalize()
        if self.version != SUPPORTED_VERSION:
            raise self._fail(
                "version",
                f"unsupported version {self.version}; this promptsearch reads version {SUPPORTED_VERSION} "
                f"(write `version: {SUPPORTED_VERSION}`).",
            )
        if not self.name.strip():
            raise self._fail("name", "must not be empty.")
        if not self.model.strip():
            raise self._fail("model", "must not be empty; give a catalog name, hub id or folder.")
        if self.batch_size is not None and self.batch_size < 1:
            raise self._fail(
                "batch_size", f"must be at least 1 (or null for automatic), got {self.batch_size}."
            )
        if self.calibration is not None and (
            not self.calibration or len(set(self.calibration)) != len(self.calibration)
        ):
            raise self._fail(
                "calibration", f"needs one or two distinct values, got {list(self.calibration)}."
            )
        if self.metric is not None:
            from promptsearch.metrics import metrics

            if self.metric not in metrics:
                raise self._fail(
                    "metric", f"unknown metric {self.metric!r}. {suggest(self.metric, metrics.names())}"
                )
        if self.task is not None:
            self._check_task_fit(self.task)

    def _check_task_fit(self, task: TaskSpec) -> None:
        """Check templates, verbalizers, metric and search features against the task, when known."""
        kind = task.kind()
        if kind is not None:
            self.check_task_type(kind)
        fields = task.field_names()
        if fields is not None:
            for i, seed in enumerate(self.templates.seeds):
                missing = [
                    f
                    for f in Template(seed.template, generation=not _answer_slot(kind)).fields
                    if f not in fields
                ]
                if missing:
                    raise ConfigError(
                        f"templates.seeds[{i}]: the template uses field(s) {missing} that task "
                        f"{task.name_or_path!r} does not have; its fields are {list(fields)}."
                    )
            grammar = self.templates.grammar
            if grammar is not None and grammar.field not in fields:
                raise ConfigError(
                    f"templates.grammar.field: task {task.name_or_path!r} has no field {grammar.field!r}; "
                    f"its fields are {list(fields)}."
                )
        labels = task.labels()
        if labels is not None:
            for i, spec in enumerate(self.verbalizers.candidates):
                try:
                    Verbalizer.parse(spec, labels)
                except VerbalizerError as exc:
                    raise ConfigError(f"verbalizers.candidates[{i}]: {exc}") from None

    def check_task_type(self, name: str) -> None:
        """Raise :class:`ConfigError` where the space does not fit a task of type ``name``.

        Templates need the answer slot the type asks for; label words and calibration apply to
        classification only; the metric must read the type's predictions.
        """
        from promptsearch.metrics import get_metric
        from promptsearch.tasks import task_types

        kind = task_types.get(name)
        for i, seed in enumerate(self.templates.seeds):
            try:
                Template(seed.template, generation=not kind.answer_slot)
            except TemplateError as exc:
                raise ConfigError(
                    f"templates.seeds[{i}].template: invalid seed template {seed.template!r} for a {name} "
                    f"task: {exc}"
                ) from None
        if not kind.label_words:
            if self.verbalizers.candidates or self.verbalizers.auto.enabled:
                raise ConfigError(
                    f"verbalizers: label words apply to classification tasks only; this is a {name} task. "
                    "Remove the verbalizers section."
                )
            if self.calibration is not None and True in self.calibration:
                raise ConfigError(
                    f"calibration: contextual calibration applies to label words (classification); this "
                    f"is a {name} task. Write `calibration: [false]`."
                )
        if self.metric is not None:
            get_metric(self.metric).check_kind(kind.output, "metric")
        self.tuning.check_task(name)

    def check_backend(self, backend: Any) -> None:
        """Raise :class:`ConfigError` when the space asks for what the backend cannot do
        (tuning modes on a backend without trainable weights, such as a served model)."""
        self.tuning.check_backend(backend)

    def baseline_prompt(self, answer_slot: bool, verbalizer: Verbalizer | None = None) -> Prompt:
        """The user's own prompt: the first seed template (:meth:`TemplateSpace.first`) with
        ``verbalizer``, zero-shot: the baseline every searched prompt must beat. ``answer_slot``:
        the task type's."""
        return self.templates.first(answer_slot).prompt(verbalizer, generation=not answer_slot)

    def calibration_choices(self, label_words: bool = True) -> tuple[bool, ...]:
        """The calibration values to try: the space's, or both with label words and off without."""
        if self.calibration is not None:
            return self.calibration
        return (False, True) if label_words else (False,)

    def total_trials(self, trials: int | None = None) -> int:
        """Trials a search runs: ``trials`` (default: the budget's) plus any tuning-stage trials."""
        stage = self.tuning.stage
        return (self.budget.trials if trials is None else trials) + (stage.trials if stage else 0)

    def require_task(self) -> TaskSpec:
        """Return the task; raise :class:`ConfigError` if the space has none.

        Raises:
            ConfigError: If no task was given in the file or with :meth:`with_task`.
        """
        if self.task is None:
            raise ConfigError(
                f"Search space {self.name!r} names no task. Give one on the command line "
                "(--task NAME_OR_FILE, with --text-field/--label-field for a file) or add a "
                "`task:` section to the file."
            )
        return self.task

    def with_task(self, task: TaskSpec | str | Mapping[str, Any]) -> SearchSpace:
        """Return a copy of this space for ``task`` (a catalog name, a file, or a TaskSpec).

        The space's ``max_words`` carries over unless the new task sets its own.
        """
        spec = coerce(task, TaskSpec, "task")
        if spec.max_words is None and self.task is not None and self.task.max_words is not None:
            spec = dataclasses.replace(spec, max_words=self.task.max_words)
        return dataclasses.replace(self, task=spec)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        """Build a space from plain data, as read from YAML (strictly validated)."""
        return load_search_space(data)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> SearchSpace:
        """Load a space from a YAML file (see :func:`load_search_space`)."""
        return load_search_space(path)

    def to_yaml(self, path: str | os.PathLike[str] | None = None) -> str:
        """Return the space as YAML text, and write it to ``path`` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def load_search_space(
    source: str | os.PathLike[str] | Mapping[str, Any], *, origin: str | None = None
) -> SearchSpace:
    """Load and validate a search space from a YAML file or from an already parsed mapping.

    Validation is strict: an unknown key anywhere is an error naming its dotted path with
    the closest valid keys; a wrong type names the path, the expected type and the value.

    Args:
        source: A YAML file, or a mapping with the same structure.
        origin: Name used in error messages (default: the file path, or ``"<mapping>"``).

    Returns:
        The space; its ``name`` defaults to the file stem.

    Raises:
        ConfigError: For a missing or unreadable file, invalid YAML, a missing ``version``, or
            any invalid value. The message starts with the file name.

    Example:
        >>> space = load_search_space("search_spaces/movies.yaml")  # doctest: +SKIP
        >>> space.task.name_or_path  # doctest: +SKIP
        'movies'
    """
    if isinstance(source, Mapping):
        where, data, stem = origin or "<mapping>", source, None
    else:
        path = Path(source)
        where, stem = origin or str(path), path.stem
        data = read_yaml(path, where)
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{where}: a search space must be a mapping of sections, got {type(data).__name__}."
        )
    if "version" not in data:
        raise ConfigError(f"{where}: version: required key is missing; start the file with `version: 1`.")
    if "name" not in data and stem is not None:
        data = {**data, "name": stem}
    try:
        return build(SearchSpace, data, "")
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _answer_slot(task_type: str | None) -> bool:
    """Whether templates of this task type (``None``: not known yet) have a ``{label}`` slot."""
    from promptsearch.tasks import task_types

    return task_type is None or task_types.get(task_type).answer_slot

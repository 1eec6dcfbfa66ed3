"""The run-control sections of a search space: edit operators, evolution, budget, Optuna sampler
and pruner, and the final evaluation.

Names of operators, samplers and pruners are checked against their registries
(:data:`promptsearch.generators.operators`, :data:`promptsearch.study.samplers`,
:data:`promptsearch.study.pruners`), so a plugin registered there is usable here at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from promptsearch._registry import Registry, suggest
from promptsearch.backends import DEFAULT_BACKEND
from promptsearch.exceptions import ConfigError
from promptsearch.metrics import MACRO_F1
from promptsearch.space._validate import FrozenMapping, Section, at_least, freeze, thaw, type_error
from promptsearch.study import DEFAULT_PRUNER, DEFAULT_SAMPLER

__all__ = [
    "SELECTION_EXAMPLES",
    "WINNER_RULES",
    "BackendSpec",
    "BudgetSpec",
    "EvolutionSpec",
    "FinalSpec",
    "GenerationSpec",
    "OperatorsSpec",
    "PrunerSpec",
    "SamplerSpec",
    "SelectionSpec",
    "check_name",
]

#: Which labelled examples prompts are chosen on.
SELECTION_EXAMPLES = ("all", "dev")
#: How the winner is chosen among the best prompts and the baseline.
WINNER_RULES = ("paired", "best")


def check_name(section: Section, name: str, registry: Registry[Any]) -> None:
    """Raise a :class:`ConfigError` naming ``section.name`` when it is not in ``registry``."""
    value = getattr(section, name)
    if value not in registry:
        hint = suggest(str(value), registry.names())
        raise section._fail(name, f"unknown value {value!r} (no such {registry.kind}). {hint}")


def _default_operators() -> dict[str, dict[str, Any]]:
    from promptsearch.generators import operators

    return {n: {} for n in operators.registered() if operators.get(n).default_enabled}


@dataclass(frozen=True)
class OperatorsSpec(Section, Mapping[str, Mapping[str, Any]]):
    """Template edit operators by name, each with its settings (``{}`` for the defaults).

    In YAML the section is the mapping itself: ``operators: {delete: {}, add: {phrases: [...]}}``.
    The section is itself a read-only mapping, name -> settings (``enabled`` included). An
    operator with ``enabled: false`` is kept but not used.
    """

    _section: ClassVar[str | None] = "operators"

    settings: Mapping[str, Mapping[str, Any]] = field(
        default_factory=_default_operators,
        metadata={"help": "Operator name -> settings (see promptsearch.generators.operators)."},
    )

    def __post_init__(self) -> None:
        from promptsearch.generators import operators

        if not isinstance(self.settings, Mapping):
            raise type_error("operators", Mapping[str, Any], self.settings)
        clean: dict[str, FrozenMapping] = {}
        for name, options in self.settings.items():
            if name not in operators:
                raise ConfigError(
                    f"operators.{name}: unknown operator. {suggest(str(name), operators.names())}"
                )
            options = {} if options is None else options
            if not isinstance(options, Mapping):
                raise type_error(f"operators.{name}", Mapping[str, Any], options)
            if not isinstance(options.get("enabled", True), bool):
                raise type_error(f"operators.{name}.enabled", bool, options["enabled"])
            operators.get(name).check_settings(
                {k: v for k, v in options.items() if k != "enabled"}, f"operators.{name}"
            )
            clean[name] = freeze(options)
        object.__setattr__(self, "settings", FrozenMapping(clean))

    def enabled(self) -> tuple[str, ...]:
        """Names of the operators to use, in the order given."""
        return tuple(n for n, opts in self.settings.items() if opts.get("enabled", True))

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        return self.settings[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.settings)

    def __len__(self) -> int:
        return len(self.settings)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{operator name: settings}``, as written in YAML."""
        return {name: thaw(options) for name, options in self.settings.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatorsSpec:
        """Build from ``{operator name: settings}``."""
        return cls._from_value(data, "operators")

    @classmethod
    def _from_value(cls, value: Any, path: str) -> OperatorsSpec:
        if not isinstance(value, Mapping):
            raise type_error(path, Mapping[str, Any], value)
        return cls(settings=value)


@dataclass(frozen=True)
class EvolutionSpec(Section):
    """Template evolution: generations of edits and crossovers of the best templates."""

    _section: ClassVar[str | None] = "evolution"

    generations: int = field(
        default=3, metadata={"help": "Rounds of evolution (0: score the initial pool only)."}
    )
    population: int = field(default=16, metadata={"help": "Templates kept per generation."})
    parents: int = field(
        default=4, metadata={"help": "Best templates edited and crossed in each generation."}
    )

    def __post_init__(self) -> None:
        self._normalize()
        at_least(self, "generations", 0)
        at_least(self, "population", 1)
        at_least(self, "parents", 1)
        if self.parents > self.population:
            raise self._fail("parents", f"({self.parents}) must not exceed population ({self.population}).")


@dataclass(frozen=True)
class BudgetSpec(Section):
    """How long the search may run; it stops at whichever limit comes first."""

    _section: ClassVar[str | None] = "budget"

    trials: int = field(default=60, metadata={"help": "Optuna trials (prompt configurations scored)."})
    timeout_s: float | None = field(
        default=None, metadata={"help": "Wall-clock limit in seconds (null: none)."}
    )

    def __post_init__(self) -> None:
        self._normalize()
        at_least(self, "trials", 1)
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise self._fail("timeout_s", f"must be positive (or null for no limit), got {self.timeout_s}.")


@dataclass(frozen=True)
class SamplerSpec(Section):
    """The Optuna sampler; ``options`` go to its constructor."""

    _section: ClassVar[str | None] = "sampler"

    name: str = field(
        default=DEFAULT_SAMPLER, metadata={"help": "A registered sampler: tpe, random, cmaes, qmc, gp."}
    )
    seed: int | None = field(
        default=None, metadata={"help": "Sampler seed (0 is a valid seed; null: not reproducible)."}
    )
    options: Mapping[str, Any] = field(
        default_factory=FrozenMapping, metadata={"help": "Constructor options, e.g. {n_startup_trials: 10}."}
    )

    def __post_init__(self) -> None:
        from promptsearch.study import samplers

        self._normalize()
        check_name(self, "name", samplers)
        at_least(self, "seed", 0, optional=True)


@dataclass(frozen=True)
class PrunerSpec(Section):
    """The Optuna pruner; a trial reports after every ``chunk_size`` dev examples."""

    _section: ClassVar[str | None] = "pruner"

    name: str = field(
        default=DEFAULT_PRUNER,
        metadata={"help": "A registered pruner: wilcoxon, sign, successive_halving, median, none."},
    )
    options: Mapping[str, Any] = field(
        default_factory=FrozenMapping, metadata={"help": "Constructor options, e.g. {p_threshold: 0.1}."}
    )
    chunk_size: int = field(default=8, metadata={"help": "Dev examples scored between pruning checks."})

    def __post_init__(self) -> None:
        from promptsearch.study import pruners

        self._normalize()
        check_name(self, "name", pruners)
        at_least(self, "chunk_size", 1)


@dataclass(frozen=True)
class FinalSpec(Section):
    """Final evaluation: the best prompts on the test set."""

    _section: ClassVar[str | None] = "final"

    top: int = field(default=5, metadata={"help": "Best prompts (by dev score) evaluated on test."})
    test_limit: int | None = field(
        default=1000, metadata={"help": "At most this many test examples (null: all)."}
    )

    def __post_init__(self) -> None:
        self._normalize()
        at_least(self, "top", 1)
        at_least(self, "test_limit", 1, optional=True)


@dataclass(frozen=True)
class BackendSpec(Section):
    """The backend that runs the model; a plain string is shorthand for its name.

    ``options`` go to the backend's ``load`` (e.g. ``prefix_caching: false`` for ``hf``).
    """

    _section: ClassVar[str | None] = "backend"
    _accepts_str: ClassVar[bool] = True

    name: str = field(
        default=DEFAULT_BACKEND,
        metadata={
            "help": "A registered backend: hf (transformers), openai (a served model), vllm, fake, ..."
        },
    )
    options: Mapping[str, Any] = field(
        default_factory=FrozenMapping, metadata={"help": "Backend options, e.g. {prefix_caching: false}."}
    )

    def __post_init__(self) -> None:
        from promptsearch.backends import backends

        self._normalize()
        check_name(self, "name", backends)

    @classmethod
    def _from_value(cls, value: Any, path: str) -> BackendSpec:
        from promptsearch.space._validate import build

        return build(cls, {"name": value} if isinstance(value, str) else value, path)

    def _to_value(self) -> Any:
        return self.name if not self.options else self.to_dict()


@dataclass(frozen=True)
class GenerationSpec(Section):
    """How answers are generated in generation tasks (null: the task's settings)."""

    _section: ClassVar[str | None] = "generation"

    max_new_tokens: int | None = field(
        default=None, metadata={"help": "Longest answer in tokens (null: the task's, else 32)."}
    )
    stop: tuple[str, ...] | None = field(
        default=None,
        metadata={"help": "The answer ends before the first of these (null: the task's, else a newline)."},
    )

    def __post_init__(self) -> None:
        self._normalize()
        at_least(self, "max_new_tokens", 1, optional=True)
        if self.stop is not None and any(not s for s in self.stop):
            raise self._fail("stop", "stop strings must not be empty.")


@dataclass(frozen=True)
class SelectionSpec(Section):
    """How prompts are compared and the winner chosen (against the winner's curse).

    ``examples: all`` scores prompts on every labelled example, train and dev, each query's
    demonstrations drawn from all of them leave-one-out (no query sees itself); ``dev`` uses the
    dev split only.
    ``rule: paired`` keeps the baseline (the first seed template with the first label words,
    zero-shot) unless a challenger beats it in a one-sided paired bootstrap test on the
    selection examples at ``level``; among challengers that do, the one with the highest lower
    bound of its gain wins. ``rule: best`` takes the best score. ``ensemble: N`` adds the
    average of the N best prompts as a candidate (0 or 1: none). The winner must then not be
    worse than the baseline on the split's confirmation examples (``split.confirm``), on the
    study's metric and on each of ``guards`` that reads the task's predictions.
    """

    _section: ClassVar[str | None] = "selection"

    examples: str = field(
        default="all", metadata={"help": "all (train and dev, demos leave-one-out) or dev."}
    )
    rule: str = field(default="paired", metadata={"help": "paired (a test against the baseline) or best."})
    level: float = field(
        default=0.2, metadata={"help": "Level of the one-sided paired test (0 < level < 0.5)."}
    )
    ensemble: int = field(
        default=3, metadata={"help": "Best prompts averaged into an ensemble candidate (0: none)."}
    )
    guards: tuple[str, ...] = field(
        default=(MACRO_F1,),
        metadata={"help": "Metrics the winner must not lose on the confirmation examples either."},
    )

    def __post_init__(self) -> None:
        self._normalize()
        for name, choices in (("examples", SELECTION_EXAMPLES), ("rule", WINNER_RULES)):
            value = getattr(self, name)
            if value not in choices:
                raise self._fail(name, f"unknown value {value!r}. {suggest(str(value), choices)}")
        if not 0 < self.level < 0.5:
            raise self._fail("level", f"must be between 0 and 0.5, got {self.level}.")
        at_least(self, "ensemble", 0)
        from promptsearch.metrics import metrics

        for i, name in enumerate(self.guards):
            if name not in metrics:
                raise self._fail(
                    f"guards[{i}]", f"unknown metric {name!r}. {suggest(str(name), metrics.names())}"
                )

"""The declarative search space: what a prompt search may try, as frozen, validated dataclasses.

Usually a YAML file (see ``search_spaces/``) loaded with :func:`load_search_space`; the same
object can be built in Python. Names of plugins (backends, metrics, task types, operators,
samplers, pruners, demonstration selections and orders, tuning modes) are checked against
their registries, so anything registered is usable from YAML.
"""

from promptsearch.space._parts import (
    MAX_DEMONSTRATIONS,
    AutoVerbalizerSpec,
    DemoSpace,
    GrammarSpec,
    SeedTemplate,
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
from promptsearch.space._space import SUPPORTED_VERSION, SearchSpace, load_search_space
from promptsearch.space._tuning import TuningSpace, TuningStage, all_modes
from promptsearch.space._validate import FrozenMapping, Section

__all__ = [
    "MAX_DEMONSTRATIONS",
    "SUPPORTED_VERSION",
    "AutoVerbalizerSpec",
    "BackendSpec",
    "BudgetSpec",
    "DemoSpace",
    "EvolutionSpec",
    "FinalSpec",
    "FrozenMapping",
    "GenerationSpec",
    "GrammarSpec",
    "OperatorsSpec",
    "PrunerSpec",
    "SamplerSpec",
    "SearchSpace",
    "Section",
    "SeedTemplate",
    "SelectionSpec",
    "SplitSpec",
    "TaskSpec",
    "TemplateSpace",
    "TuningSpace",
    "TuningStage",
    "VerbalizerSpace",
    "all_modes",
    "load_search_space",
]

"""Configurations of the tuners, as plain frozen dataclasses (PEFT style: configuration is data).

Nothing here imports torch, so configurations can be built, checked and stored cheaply. A
field's ``metadata["range"]`` says how a search space's two-number list for it is searched:
``"log"`` (log-uniform floats) or ``"int"`` (integers); any other list is a categorical choice.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, TypeVar

from promptsearch.exceptions import ConfigError

__all__ = ["BBTConfig", "FinetuneConfig", "SoftInit", "SoftPromptConfig"]

_C = TypeVar("_C", bound="_ConfigMixin")

_PLACEMENTS = ("prefix", "slot")


class SoftInit(str, enum.Enum):
    """How soft prompt embeddings start (mirrors ``peft.PromptTuningInit``).

    ``TEXT`` copies the embeddings of the tokens of an initialization text (repeated or cut
    to the number of soft tokens), ``VOCAB`` those of random vocabulary tokens, ``RANDOM``
    draws them from a normal distribution (may fall outside the embedding manifold).
    """

    TEXT = "TEXT"
    VOCAB = "VOCAB"
    RANDOM = "RANDOM"


class _ConfigMixin:
    """``to_dict`` / ``from_dict`` shared by the configurations."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dictionary of the fields (enums as their values)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = value.value if isinstance(value, enum.Enum) else value
        return out

    @classmethod
    def from_dict(cls: type[_C], data: dict[str, Any]) -> _C:
        """Inverse of :meth:`to_dict`; unknown keys are an error that names the valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"Unknown {cls.__name__} field(s) {unknown}; valid fields are {sorted(names)}.")
        return cls(**data)


def _positive(owner: str, **values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"{owner}.{name} must be > 0, got {value!r}; pass a positive value.")


def _non_negative(owner: str, **values: float) -> None:
    for name, value in values.items():
        if value < 0:
            raise ConfigError(f"{owner}.{name} must be >= 0, got {value!r}; pass 0 or more.")


def _parse_init(owner: str, value: SoftInit | str) -> SoftInit:
    try:
        return SoftInit(str(getattr(value, "value", value)).upper())
    except ValueError:
        choices = ", ".join(repr(i.value) for i in SoftInit)
        raise ConfigError(f"{owner}.init {value!r} is not one of {choices}.") from None


def _check_placement(owner: str, placement: str) -> None:
    if placement not in _PLACEMENTS:
        raise ConfigError(
            f"{owner}.placement {placement!r} is not 'prefix' (soft tokens before the whole input) "
            "or 'slot' (soft tokens where the template has {soft:N})."
        )


@dataclass(frozen=True)
class SoftPromptConfig(_ConfigMixin):
    """Prompt tuning (Lester et al., 2021): train soft token embeddings by gradient descent.

    Example:
        >>> SoftPromptConfig(n_tokens=4, steps=10).lr
        0.003
    """

    n_tokens: int = field(default=8, metadata={"help": "Number of soft tokens (virtual tokens)."})
    init: SoftInit = field(
        default=SoftInit.TEXT, metadata={"help": "How the embeddings start: TEXT, VOCAB or RANDOM."}
    )
    init_text: str = field(
        default="Classify the sentiment of this text.",
        metadata={"help": "Text whose token embeddings start the soft prompt (init TEXT)."},
    )
    placement: str = field(
        default="prefix",
        metadata={"help": "'prefix': before everything; 'slot': at the template's {soft:N} slots."},
    )
    lr: float = field(default=3e-3, metadata={"help": "AdamW learning rate.", "range": "log"})
    steps: int = field(default=30, metadata={"help": "Optimizer steps (mini-batches).", "range": "int"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay on the soft prompt."})
    batch_size: int = field(default=8, metadata={"help": "Training examples per step."})
    eval_every: int = field(default=5, metadata={"help": "Steps between dev evaluations."})
    patience: int = field(
        default=3,
        metadata={"help": "Stop after this many evaluations without a better dev score (0: never)."},
    )
    seed: int = field(default=0, metadata={"help": "Seed of initialization and batch order (0 is a seed)."})

    def __post_init__(self) -> None:
        object.__setattr__(self, "init", _parse_init("SoftPromptConfig", self.init))
        _positive(
            "SoftPromptConfig",
            n_tokens=self.n_tokens,
            lr=self.lr,
            steps=self.steps,
            batch_size=self.batch_size,
            eval_every=self.eval_every,
        )
        _non_negative(
            "SoftPromptConfig", weight_decay=self.weight_decay, patience=self.patience, seed=self.seed
        )
        _check_placement("SoftPromptConfig", self.placement)
        if self.init is SoftInit.TEXT and not self.init_text.strip():
            raise ConfigError(
                "SoftPromptConfig.init is TEXT but init_text is empty; give a text or use init='VOCAB'."
            )


@dataclass(frozen=True)
class BBTConfig(_ConfigMixin):
    """Black-box tuning (Sun et al., 2022): CMA-ES over a random low-dimensional projection.

    The soft prompt is ``init + (A @ z).reshape(n_tokens, hidden)`` with a fixed random ``A``
    of shape ``(n_tokens * hidden, intrinsic_dim)``; only ``z`` is searched, without gradients.
    """

    n_tokens: int = field(default=8, metadata={"help": "Number of soft tokens."})
    intrinsic_dim: int = field(default=64, metadata={"help": "Dimension d of the searched vector z."})
    population: int = field(default=16, metadata={"help": "CMA-ES population size per iteration."})
    iterations: int = field(default=20, metadata={"help": "CMA-ES generations.", "range": "int"})
    sigma: float = field(default=1.0, metadata={"help": "Initial CMA-ES step size on z.", "range": "log"})
    init: SoftInit = field(default=SoftInit.TEXT, metadata={"help": "Start of the soft prompt (z = 0)."})
    init_text: str = field(
        default="Classify the sentiment of this text.", metadata={"help": "Text for init TEXT."}
    )
    placement: str = field(default="prefix", metadata={"help": "'prefix' or 'slot', as for prompt tuning."})
    batch_size: int = field(
        default=64, metadata={"help": "Sequences per forward pass when scoring a population."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of A, of CMA-ES and of the initialization."})

    def __post_init__(self) -> None:
        object.__setattr__(self, "init", _parse_init("BBTConfig", self.init))
        _positive(
            "BBTConfig",
            n_tokens=self.n_tokens,
            intrinsic_dim=self.intrinsic_dim,
            population=self.population,
            iterations=self.iterations,
            sigma=self.sigma,
            batch_size=self.batch_size,
        )
        _non_negative("BBTConfig", seed=self.seed)
        _check_placement("BBTConfig", self.placement)
        if self.population < 2:
            raise ConfigError(f"BBTConfig.population must be >= 2 for CMA-ES, got {self.population}.")
        if self.init is SoftInit.TEXT and not self.init_text.strip():
            raise ConfigError(
                "BBTConfig.init is TEXT but init_text is empty; give a text or use init='VOCAB'."
            )


@dataclass(frozen=True)
class FinetuneConfig(_ConfigMixin):
    """Prompt-based fine-tuning (LM-BFF style): the template is fixed, the model is trained.

    ``lr=None`` picks the standard default of the mode: ``1e-3`` for LoRA (adapters start at
    zero and need larger steps) and ``2e-5`` for full fine-tuning.

    Example:
        >>> FinetuneConfig().learning_rate, FinetuneConfig(mode="full").learning_rate
        (0.001, 2e-05)
    """

    mode: str = field(
        default="lora", metadata={"help": "'lora' (PEFT LoRA adapters) or 'full' (all weights)."}
    )
    rank: int = field(default=8, metadata={"help": "LoRA rank r."})
    alpha: int = field(default=16, metadata={"help": "LoRA alpha (scale = alpha / rank)."})
    dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    target_modules: str | tuple[str, ...] = field(
        default="all-linear",
        metadata={"help": "LoRA target modules; 'all-linear' = every linear but the head."},
    )
    lr: float | None = field(
        default=None,
        metadata={"help": "AdamW learning rate; None: 1e-3 (LoRA), 2e-5 (full).", "range": "log"},
    )
    epochs: int = field(default=5, metadata={"help": "Passes over the training set.", "range": "int"})
    batch_size: int = field(default=16, metadata={"help": "Training examples per step."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    seed: int = field(default=0, metadata={"help": "Seed of adapter initialization and batch order."})

    def __post_init__(self) -> None:
        if self.mode not in ("lora", "full"):
            raise ConfigError(f"FinetuneConfig.mode {self.mode!r} is not 'lora' or 'full'.")
        if isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        _positive(
            "FinetuneConfig", rank=self.rank, alpha=self.alpha, epochs=self.epochs, batch_size=self.batch_size
        )
        if self.lr is not None:
            _positive("FinetuneConfig", lr=self.lr)
        _non_negative("FinetuneConfig", weight_decay=self.weight_decay, seed=self.seed)
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"FinetuneConfig.dropout must be in [0, 1), got {self.dropout!r}.")

    @property
    def learning_rate(self) -> float:
        """The learning rate used: ``lr``, or the mode's default."""
        if self.lr is not None:
            return self.lr
        return 1e-3 if self.mode == "lora" else 2e-5

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if isinstance(out["target_modules"], tuple):
            out["target_modules"] = list(out["target_modules"])
        return out

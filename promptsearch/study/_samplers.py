"""Optuna samplers by name: each registered once as ``factory(seed, options) -> sampler``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from promptsearch._registry import Registry

if TYPE_CHECKING:
    import optuna

__all__ = ["make_sampler", "register_sampler", "samplers"]

SamplerFactory = Callable[["int | None", dict[str, Any]], "optuna.samplers.BaseSampler"]

#: Sampler name -> factory.
samplers: Registry[SamplerFactory] = Registry("sampler")


def register_sampler(name: str, factory: SamplerFactory) -> None:
    """Register ``factory(seed, options)`` under ``name`` (the space's ``sampler.name``)."""
    samplers.register(name, factory)


def make_sampler(
    name: str, seed: int | None, options: Mapping[str, Any] | None = None
) -> optuna.samplers.BaseSampler:
    """Build a sampler by name (``tpe`` by default), seeded (0 is a valid seed)."""
    return samplers.get(name)(seed, dict(options or {}))


def _tpe(seed: int | None, options: dict[str, Any]) -> Any:
    import optuna

    options.setdefault("multivariate", True)
    options.setdefault("group", True)
    options.setdefault("n_startup_trials", 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, **options)


def _optuna(cls_name: str, *, takes_options: bool = True) -> SamplerFactory:
    def factory(seed: int | None, options: dict[str, Any]) -> Any:
        import optuna

        cls = getattr(optuna.samplers, cls_name)
        return cls(seed=seed, **options) if takes_options else cls(seed=seed)

    return factory


register_sampler("tpe", _tpe)
register_sampler("random", _optuna("RandomSampler", takes_options=False))
register_sampler("cmaes", _optuna("CmaEsSampler"))
register_sampler("qmc", _optuna("QMCSampler"))
register_sampler("gp", _optuna("GPSampler"))

"""Optuna samplers by name: each registered once as ``factory(seed, options) -> sampler``.

:func:`make_sampler` wraps the sampler in :class:`TrialSeededSampler`: each trial draws with a
seed made from the study's seed and the trial's place in the study (the number of trials
before it that did not fail). Workers sharing a study therefore never sample in lockstep, and
a study resumed after a crash samples what an uninterrupted one would have.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from promptsearch._registry import Registry

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_SAMPLER", "make_sampler", "make_trial_seeded", "register_sampler", "samplers"]

SamplerFactory = Callable[["int | None", dict[str, Any]], "optuna.samplers.BaseSampler"]

#: Sampler name -> factory.
samplers: Registry[SamplerFactory] = Registry("sampler")

#: The sampler of a space without a ``sampler`` section.
DEFAULT_SAMPLER = "tpe"


def register_sampler(name: str, factory: SamplerFactory) -> None:
    """Register ``factory(seed, options)`` under ``name`` (the space's ``sampler.name``)."""
    samplers.register(name, factory)


def make_sampler(
    name: str, seed: int | None, options: Mapping[str, Any] | None = None
) -> optuna.samplers.BaseSampler:
    """Build a sampler by name (``tpe`` by default), seeded per trial (0 is a valid seed).

    With ``seed=None`` the sampler is not reproducible and is not wrapped.
    """
    factory = samplers.get(name)
    sampler: optuna.samplers.BaseSampler = (
        factory(None, dict(options or {}))
        if seed is None
        else make_trial_seeded(factory, seed, dict(options or {}))
    )
    return sampler


def make_trial_seeded(factory: SamplerFactory, seed: int, options: dict[str, Any]) -> Any:
    """Wrap ``factory``'s sampler in a :class:`TrialSeededSampler` (an Optuna sampler)."""
    import optuna

    class TrialSeededSampler(optuna.samplers.BaseSampler):
        """Delegates to ``factory(seed_of_trial, options)``, rebuilt before every trial."""

        def __init__(self) -> None:
            self._inner = factory(seed, dict(options))

        def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            place = sum(
                1
                for t in study.get_trials(deepcopy=False)
                if t.number < trial.number and t.state != optuna.trial.TrialState.FAIL
            )
            self._inner = factory((seed * 1_000_003 + place) % 2**32, dict(options))
            self._inner.before_trial(study, trial)

        def infer_relative_search_space(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> Any:
            return self._inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, space: Any) -> Any:
            return self._inner.sample_relative(study, trial, space)

        def sample_independent(
            self, study: optuna.Study, trial: optuna.trial.FrozenTrial, name: str, distribution: Any
        ) -> Any:
            return self._inner.sample_independent(study, trial, name, distribution)

        def after_trial(
            self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: Any, values: Any
        ) -> None:
            self._inner.after_trial(study, trial, state, values)

    return TrialSeededSampler()


def _tpe(seed: int | None, options: dict[str, Any]) -> Any:
    import optuna

    options.setdefault("multivariate", True)
    options.setdefault("group", True)
    options.setdefault("n_startup_trials", 8)
    options.setdefault("constant_liar", True)  # other workers' running trials count as bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, **options)


def _optuna(cls_name: str, *, takes_options: bool = True) -> SamplerFactory:
    def factory(seed: int | None, options: dict[str, Any]) -> Any:
        import optuna

        cls = getattr(optuna.samplers, cls_name)
        return cls(seed=seed, **options) if takes_options else cls(seed=seed)

    return factory


register_sampler(DEFAULT_SAMPLER, _tpe)
register_sampler("random", _optuna("RandomSampler", takes_options=False))
register_sampler("cmaes", _optuna("CmaEsSampler"))
register_sampler("qmc", _optuna("QMCSampler"))
register_sampler("gp", _optuna("GPSampler"))

"""Optuna storages, samplers and pruners by name."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch._registry import suggest
from promptsearch.exceptions import ConfigError

if TYPE_CHECKING:
    import optuna

    from promptsearch.search._space import SearchSpace

__all__ = ["PRUNERS", "SAMPLERS", "make_pruner", "make_sampler", "make_storage", "warn_if_space_changed"]

_logger = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random", "cmaes", "qmc", "gp")
PRUNERS = ("wilcoxon", "sign", "successive_halving", "median", "none")


def make_storage(url: str | None, out_dir: Path | None) -> Any:
    """Return an Optuna storage: any RDB URL (SQLite by default), or a journal file.

    RDB storages get a heartbeat, so a trial whose worker was killed is marked failed and
    retried (with the same parameters) by the next worker or run.
    """
    import warnings

    import optuna
    from optuna.storages import RDBStorage

    if url is None:
        if out_dir is None:
            return None  # in-memory
        out_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(out_dir / 'study.db').resolve()}"
    if url.startswith("journal:") or url.endswith((".log", ".journal")):
        path = url.removeprefix("journal:")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(path))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if "://" not in url:
        raise ConfigError(
            f"Storage {url!r} is not an Optuna storage URL; use e.g. sqlite:///runs/study.db, "
            "postgresql://user@host/db or journal:runs/study.log."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry: Any = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        kwargs: dict[str, Any] = {"heartbeat_interval": 30, "grace_period": 120}
        if retry is not None:
            kwargs["heartbeat_stale_trial_callback"] = retry(max_retry=2)
        else:  # Optuna < 4.9
            kwargs["failed_trial_callback"] = optuna.storages.RetryFailedTrialCallback(max_retry=2)
        return RDBStorage(
            url,
            engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None,
            **kwargs,
        )


def make_sampler(
    name: str, seed: int | None, options: dict[str, Any] | None = None
) -> optuna.samplers.BaseSampler:
    """Build a sampler by name (``tpe`` by default), seeded (0 is a valid seed)."""
    import optuna

    opts = dict(options or {})
    if name == "tpe":
        import warnings

        opts.setdefault("multivariate", True)
        opts.setdefault("group", True)
        opts.setdefault("n_startup_trials", 8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, **opts)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, **opts)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, **opts)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, **opts)
    raise ConfigError(f"Unknown sampler {name!r}. {suggest(name, list(SAMPLERS))}")


def make_pruner(name: str, options: dict[str, Any] | None = None) -> optuna.pruners.BasePruner:
    """Build a pruner by name: ``wilcoxon`` (default), ``sign``, ``successive_halving``, ``median``, ``none``.

    ``wilcoxon`` and ``sign`` get one value per dev example (step = example index); the others
    get the running mean.
    """
    import warnings

    import optuna

    opts = dict(options or {})
    if name == "wilcoxon":
        opts.setdefault("p_threshold", 0.1)
        opts.setdefault("n_startup_steps", 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(**opts)
    if name == "sign":
        from promptsearch.search._pruners import make_sign_test_pruner

        return make_sign_test_pruner(**opts)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(**opts)
    if name == "median":
        return optuna.pruners.MedianPruner(**opts)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"Unknown pruner {name!r}. {suggest(name, list(PRUNERS))}")


def warn_if_space_changed(study: optuna.Study, space: SearchSpace, name: str) -> None:
    """Warn when a resumed study was created with a different search space."""
    stored = study.user_attrs.get("space")
    if stored is None:
        return
    old, new = json.loads(stored), json.loads(json.dumps(space.to_dict()))
    run_control = {"budget", "final"}  # may change between runs without touching the trials
    changed = sorted(k for k in (set(old) | set(new)) - run_control if old.get(k) != new.get(k))
    if changed:
        _logger.warning(
            "Study %r was created with a different search space (changed: %s). Its trials, pools "
            "and tuning bases come from the old one; use a new --out or --study to start afresh.",
            name,
            ", ".join(changed),
        )

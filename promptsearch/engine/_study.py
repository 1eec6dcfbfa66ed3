"""Opening the study of a search: storage, name, direction, sampler, pruner and shared attributes."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from promptsearch.space import check_tuning_space
from promptsearch.study import StudyAttr, make_pruner, make_routed_pruner, make_sampler

if TYPE_CHECKING:
    import optuna

    from promptsearch.metrics import BaseMetric
    from promptsearch.space import SearchSpace

__all__ = ["open_study", "warn_if_space_changed"]

_logger = logging.getLogger(__name__)


def open_study(
    space: SearchSpace,
    *,
    name: str,
    storage: Any,
    metric: BaseMetric,
    seed: int,
    resolution: float,
    attrs: dict[str, Any],
) -> optuna.Study:
    """Create the study in ``storage`` (an Optuna storage or ``None`` for memory), or load it when
    it exists (a resumed run or another worker).

    ``attrs`` are stored once, by the first run; a changed search space is reported.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = make_pruner(space.pruner.name, dict(space.pruner.options), resolution=resolution)
    if check_tuning_space(space.tuning) != ("none",):
        pruner = make_routed_pruner(pruner)
    sampler_seed = space.sampler.seed if space.sampler.seed is not None else seed
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=metric.direction,
        sampler=make_sampler(space.sampler.name, sampler_seed, dict(space.sampler.options)),
        pruner=pruner,
        load_if_exists=True,
    )
    for key, value in {**attrs, StudyAttr.SPACE: json.dumps(space.to_dict())}.items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)
    warn_if_space_changed(study, space, name)
    return study


def warn_if_space_changed(study: optuna.Study, space: SearchSpace, name: str) -> None:
    """Warn when a resumed study was created with a different search space."""
    stored = study.user_attrs.get(StudyAttr.SPACE)
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

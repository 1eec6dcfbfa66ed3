"""Opening the study of a search: storage, name, direction, sampler, pruner and shared attributes."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import StudyMismatchError
from promptsearch.study import StudyAttr, make_pruner, make_routed_pruner, make_sampler

if TYPE_CHECKING:
    import optuna

    from promptsearch.metrics import BaseMetric
    from promptsearch.space import SearchSpace
    from promptsearch.tasks import FewShotSplit, Task

__all__ = ["RUN_CONTROL", "open_study", "study_identity", "warn_if_space_changed"]

_logger = logging.getLogger(__name__)


#: Sections of a space that may change between runs of one study (they do not touch its trials).
RUN_CONTROL = frozenset({"budget", "final", "task"})


def study_identity(
    space: SearchSpace,
    task: Task,
    model: str,
    metric: str,
    split: FewShotSplit,
    *,
    deployment: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """What a study was made for: the task's content, the search space (run control aside), the
    model, the metric and the split. A resumed run must match it (see :func:`open_study`).

    ``deployment`` names backend options that say where the model runs, not what it computes
    (a server's address, timeouts: :attr:`LMBackend.deployment_options`); they may change
    between runs and workers."""
    digest = hashlib.sha256()
    for part in (task.task_type, *task.label_names, *sorted(e.id for e in task.examples)):
        digest.update(part.encode("utf-8") + b"\x1f")
    settings = {k: v for k, v in space.to_dict().items() if k not in RUN_CONTROL}
    backend = settings.get("backend")
    if isinstance(backend, dict) and deployment:
        options = {k: v for k, v in dict(backend.get("options") or {}).items() if k not in deployment}
        settings["backend"] = {**backend, "options": options} if options else backend["name"]
    return {
        "task": digest.hexdigest()[:16],
        "space": hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16],
        "model": model,
        "metric": metric,
        "split": f"{split.strategy} k={split.k} seed={split.seed}",
    }


def open_study(
    space: SearchSpace,
    *,
    name: str,
    storage: Any,
    metric: BaseMetric,
    seed: int,
    resolution: float,
    attrs: dict[str, Any],
    identity: dict[str, str] | None = None,
    force_resume: bool = False,
    sampler: Any = None,
    pruner: Any = None,
) -> optuna.Study:
    """Create the study in ``storage`` (an Optuna storage or ``None`` for memory), or load it when
    it exists (a resumed run or another worker).

    ``attrs`` are stored once, by the first run. ``identity`` (see :func:`study_identity`) is
    stored too, and a study made for another task, space, model, metric or split is refused,
    naming what differs, unless ``force_resume`` (a changed space of a study made before
    identities were stored is only reported). ``sampler`` and ``pruner`` (Optuna objects)
    replace the space's sections.

    Raises:
        StudyMismatchError: resuming a study made for something else.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if pruner is None:
        pruner = make_pruner(space.pruner.name, dict(space.pruner.options), resolution=resolution)
    if space.tuning.tuned:
        pruner = make_routed_pruner(pruner)
    sampler_seed = space.sampler.seed if space.sampler.seed is not None else seed
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=metric.direction,
        sampler=sampler
        if sampler is not None
        else make_sampler(space.sampler.name, sampler_seed, dict(space.sampler.options)),
        pruner=pruner,
        load_if_exists=True,
    )
    stored = study.user_attrs.get(StudyAttr.IDENTITY)
    if identity is not None and stored is not None:
        _check_identity(json.loads(stored), identity, name, force_resume)
    elif study.user_attrs.get(StudyAttr.SPACE) is not None:
        warn_if_space_changed(study, space, name)
    extra = {StudyAttr.IDENTITY: json.dumps(identity)} if identity is not None else {}
    for key, value in {**attrs, StudyAttr.SPACE: json.dumps(space.to_dict()), **extra}.items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)
    return study


def _check_identity(stored: dict[str, str], identity: dict[str, str], name: str, force: bool) -> None:
    words = {
        "task": "the task's examples or labels",
        "space": "the search space (beyond budget and final)",
        "model": "the model",
        "metric": "the metric",
        "split": "the split",
    }
    changed = [k for k in identity if stored.get(k) != identity[k]]
    if not changed:
        return
    detail = "; ".join(
        f"{words.get(k, k)}: {stored.get(k)!r} then, {identity[k]!r} now"
        if k in ("model", "metric", "split")
        else words.get(k, k)
        for k in changed
    )
    if force:
        _logger.warning("Resuming study %r made for something else (%s), as forced.", name, detail)
        return
    raise StudyMismatchError(
        f"Study {name!r} in this storage was made for something else: {detail} changed. Its trials "
        "would be mixed with this run's. Start a new study (another --out, --storage or --study-name), "
        "or pass --force-resume (force_resume=True) to resume it anyway."
    )


def warn_if_space_changed(study: optuna.Study, space: SearchSpace, name: str) -> None:
    """Warn when a resumed study was created with a different search space."""
    stored = study.user_attrs.get(StudyAttr.SPACE)
    if stored is None:
        return
    old, new = json.loads(stored), json.loads(json.dumps(space.to_dict()))
    run_control = RUN_CONTROL - {"task"}  # may change between runs without touching the trials
    changed = sorted(k for k in (set(old) | set(new)) - run_control if old.get(k) != new.get(k))
    if changed:
        _logger.warning(
            "Study %r was created with a different search space (changed: %s). Its trials, pools "
            "and tuning bases come from the old one; use a new --out or --study to start afresh.",
            name,
            ", ".join(changed),
        )

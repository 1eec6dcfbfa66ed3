"""How a run is set up, once for every entry point (``PromptSearch.fit``, the ``--seeds``
protocol, the CLI): the space with the caller's overrides, the task it names, the metric, the
study's storage and score cache (and their defaults), and the backend that runs the model.

Everything that can fail cheaply (a bad task, metric, embedder or database) fails before the
model loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.engine._estimate import timed
from promptsearch.exceptions import ConfigError, PromptSearchError

if TYPE_CHECKING:
    from promptsearch.backends import GenerationSettings, LMBackend
    from promptsearch.metrics import BaseMetric
    from promptsearch.scoring import ScoreCache
    from promptsearch.space import SearchSpace
    from promptsearch.tasks import FewShotSplit, Task

__all__ = [
    "RunSetup",
    "SpaceOverrides",
    "check_embedder",
    "load_run_backend",
    "make_split",
    "resolve_task",
    "run_cache",
    "run_storage",
    "setup_run",
]


@dataclass(frozen=True)
class SpaceOverrides:
    """What a caller (``PromptSearch``'s arguments, the CLI's options) changes in a space.

    ``backend`` names another backend: the space's backend options are for its own backend, so
    a different name starts from none; ``backend_options`` are added to them. ``None`` keeps the
    space's value.
    """

    backend: str | None = None
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    metric: str | None = None
    test_limit: int | None = None
    top: int | None = None

    def apply(self, space: SearchSpace) -> SearchSpace:
        """A copy of ``space`` with these overrides."""
        from promptsearch.space import BackendSpec

        changes: dict[str, Any] = {}
        if self.backend is not None or self.backend_options:
            name = self.backend or space.backend.name
            kept = dict(space.backend.options) if name == space.backend.name else {}
            changes["backend"] = BackendSpec(name, {**kept, **self.backend_options})
        if self.metric is not None:
            changes["metric"] = self.metric
        if self.test_limit is not None or self.top is not None:
            final = space.final
            changes["final"] = replace(
                final,
                test_limit=final.test_limit if self.test_limit is None else self.test_limit,
                top=final.top if self.top is None else self.top,
            )
        return replace(space, **changes) if changes else space


def resolve_task(space: SearchSpace, task: Any = None) -> tuple[SearchSpace, Task, bool]:
    """The space (with ``task`` applied), its task, and whether that task is the user's own file.

    ``task`` overrides the space's: a catalog name, a file, or a :class:`~promptsearch.tasks.Task`
    (used as is). A file whose space's seed templates have no ``{label}`` is read as a generation
    task (its answers follow the templates). The task type is checked against the space.
    """
    from promptsearch.tasks import Task, load_task

    if isinstance(task, Task):
        space.check_task_type(task.task_type)
        return space, task, False
    if task is not None:
        space = space.with_task(task)
    spec = space.require_task()
    kwargs = spec.loader_kwargs()
    seeds = space.templates.seeds
    if spec.kind() is None and seeds and all("{label}" not in s.template for s in seeds):
        kwargs["task_type"] = "generation"  # answers follow the templates: a generation space
    loaded = load_task(spec.name_or_path, **kwargs)
    space.check_task_type(loaded.task_type)
    return space, loaded, not spec.is_catalog()


def load_run_backend(
    space: SearchSpace,
    model: Any = None,
    *,
    dtype: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
) -> LMBackend:
    """The backend of the space (``model``, ``dtype``, ``batch_size`` override it), checked
    against what the space asks of it (tuning needs trainable weights)."""
    from promptsearch.backends import load_backend

    backend = load_backend(
        space.backend.name,
        model if model is not None else space.model,
        dtype=dtype or space.dtype,
        device=device,
        batch_size=batch_size or space.batch_size,
        **dict(space.backend.options),
    )
    space.check_backend(backend)
    return backend


def check_embedder(space: SearchSpace) -> str:
    """Load the sentence encoder once, before any trial, when similar demonstrations are searched.

    A bad name then fails the run at once with a clear message, instead of failing every
    ``similar`` trial one by one.
    """
    from promptsearch.demonstrations import load_embedder, selections

    demos = space.demonstrations
    name = demos.embedder
    if any(selections.get(s).uses_embedder for s in demos.selection) and any(c > 0 for c in demos.counts):
        try:
            load_embedder(name)
        except PromptSearchError as exc:
            raise ConfigError(f"demonstrations.embedder: {exc}") from None
    return name


def run_storage(storage: str | None, out: Path | None, *, workers: int = 1) -> str | None:
    """The study's storage URL: ``storage`` when given; else the study file an earlier run left
    in ``out`` (``study.db`` or ``study.log``), so that the same command resumes it; else
    ``OUT/study.db`` for one process and the journal file ``OUT/study.log`` for several (a
    journal takes no database lock, so workers never wait on each other); ``None`` (in memory)
    without ``out``."""
    if storage is not None or out is None:
        return storage
    db, journal = out / "study.db", out / "study.log"
    if not db.is_file() and (journal.is_file() or workers > 1):
        return f"journal:{journal.resolve()}"
    return f"sqlite:///{db.resolve()}"


def run_cache(cache: Any, storage: str | None, out: Path | None) -> ScoreCache:
    """The score cache: ``cache`` itself (an object), a SQLite file at a path, or ``"auto"``:
    beside (or in) the ``storage`` the caller gave, which other workers may share; else
    ``OUT/scores.sqlite``; else in memory."""
    from promptsearch.study import MemoryScoreCache, SQLiteScoreCache, cache_for_storage

    if isinstance(cache, str) and cache == "auto":
        if storage is not None:
            return cache_for_storage(storage)
        return SQLiteScoreCache(out / "scores.sqlite") if out is not None else MemoryScoreCache()
    if isinstance(cache, (str, Path)):
        return SQLiteScoreCache(cache)
    return cache  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RunSetup:
    """Everything a run is made of, resolved once (:func:`setup_run`).

    Attributes:
        space: The search space with the caller's overrides and task.
        task: The task; ``from_file`` whether it is the user's own file (split by its balance).
        split: The task's split for the run's seed (:meth:`split_for` makes another seed's).
        metric: The metric the study optimizes.
        generation: How answers are generated (generation tasks).
        embedder: The sentence encoder of similar demonstrations (loaded once, when searched).
        storage_url: The study's storage (``None``: in memory); ``storage`` the opened storage.
        cache: The score cache.
        backend: The backend that runs the model.
    """

    space: SearchSpace
    task: Task
    from_file: bool
    split: FewShotSplit
    metric: BaseMetric
    generation: GenerationSettings
    embedder: str
    storage_url: str | None
    storage: Any
    cache: ScoreCache
    backend: LMBackend

    def split_for(self, seed: int | None) -> FewShotSplit:
        """The split of the task for ``seed`` (see :func:`make_split`)."""
        return make_split(self.space, self.task, seed, from_file=self.from_file)


def make_split(space: SearchSpace, task: Task, seed: int | None, *, from_file: bool) -> FewShotSplit:
    """The split of ``task`` by the space's ``split`` section (``seed`` overrides its seed; the
    user's own file is split by its class balance), texts cut to the task's ``max_words``."""
    split = space.split.make(task, seed=seed, from_file=from_file)
    return split.shorten(space.task.max_words if space.task is not None else None)


def setup_run(
    space: SearchSpace,
    *,
    task: Any = None,
    model: Any = None,
    overrides: SpaceOverrides | None = None,
    seed: int | None = None,
    storage: str | None = None,
    out: Path | None = None,
    cache: Any = "auto",
    workers: int = 1,
    dtype: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    phases: dict[str, float] | None = None,
) -> RunSetup:
    """Resolve a run: the task, its split for ``seed``, the metric, the embedder, the storage
    and cache (defaults in :func:`run_storage` and :func:`run_cache`), then the backend (timed as
    ``model_load`` in ``phases``). A bad task, split, metric, embedder or database fails before
    the model loads."""
    from promptsearch.metrics import get_metric
    from promptsearch.scoring import generation_settings
    from promptsearch.study import make_storage

    if overrides is not None:
        space = overrides.apply(space)
    space, loaded, from_file = resolve_task(space, task)
    split = make_split(space, loaded, seed, from_file=from_file)
    metric = get_metric(space.metric or loaded.metric)
    metric.check_kind(loaded.kind.output, "metric")
    embedder = check_embedder(space)
    url = run_storage(storage, out, workers=workers)
    opened = make_storage(url)
    score_cache = run_cache(cache, storage, out)
    with timed(phases, "model_load"):
        backend = load_run_backend(space, model, dtype=dtype, device=device, batch_size=batch_size)
    return RunSetup(
        space=space,
        task=loaded,
        from_file=from_file,
        split=split,
        metric=metric,
        generation=generation_settings(
            loaded, max_new_tokens=space.generation.max_new_tokens, stop=space.generation.stop
        ),
        embedder=embedder,
        storage_url=url,
        storage=opened,
        cache=score_cache,
        backend=backend,
    )

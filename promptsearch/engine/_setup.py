"""How a run is set up, once for every entry point (``PromptSearch.fit``, the ``--seeds``
protocol, the CLI): the task a space names and the backend that runs its model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptsearch.backends import LMBackend
    from promptsearch.space import SearchSpace
    from promptsearch.tasks import Task

__all__ = ["load_run_backend", "resolve_task"]


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

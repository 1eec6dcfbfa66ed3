"""``PromptSearch``: one Optuna study over templates, label words, demonstrations, calibration
and tuning, in the scikit-learn shape (parameters in ``__init__``, the work in ``fit``)."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.engine._artifacts import artifact_store
from promptsearch.engine._balance import at_data_balance
from promptsearch.engine._context import Callback, SearchContext
from promptsearch.engine._estimate import estimate_cost, timed
from promptsearch.engine._finalize import finalize_once
from promptsearch.engine._objective import TIE_BREAK, DevObjective
from promptsearch.engine._pools import fitted_verbalizers, verbalizer_pool
from promptsearch.engine._schedule import schedules
from promptsearch.engine._setup import RunSetup, SpaceOverrides, setup_run
from promptsearch.engine._study import open_study, study_identity
from promptsearch.engine._workers import stop_on_signals, wait_idle
from promptsearch.exceptions import ConfigError, SearchInterrupted
from promptsearch.study import StudyAttr

if TYPE_CHECKING:
    from promptsearch.reports import Leaderboard, LeaderboardRow
    from promptsearch.space import SearchSpace
    from promptsearch.tasks import Task
    from promptsearch.templates import Prompt
    from promptsearch.tuning import SavedTuning

__all__ = ["PromptSearch"]

_logger = logging.getLogger(__name__)


class PromptSearch:
    """Find the best prompt for a task and a model (scikit-learn style: configure, then ``fit``).

    Args:
        space: A :class:`~promptsearch.space.SearchSpace`, or the path of a YAML file.
        task: Overrides the space's task (a catalog name, a file, or a :class:`Task`).
        model: Overrides the space's model (a catalog name, folder, hub id, loaded model or
            backend).
        seed: Few-shot split seed (LM-BFF: 13, 21, 42, 87, 100); also seeds the sampler.
        n_trials: Overrides the space's trial budget.
        storage: Optuna storage URL; default ``sqlite:///<out_dir>/study.db`` (in memory
            without ``out_dir``). Running again with the same storage resumes the study.
        study_name: Default ``<space name>-<task>-seed<seed>``.
        out_dir: Folder for the study, the score cache and the leaderboard files.
        cache: ``"auto"`` (beside or in the ``storage`` when one is given, so that workers sharing
            the study share it; else a SQLite file in ``out_dir``; else in memory), a path, or a
            cache object.
        callbacks: Optuna callbacks called after each trial (e.g. a progress bar).
        backend: Overrides the space's backend name (``hf``, ``fake``, ``openai``, a plugin's);
            a different name starts from no backend options.
        backend_options: Added to the backend's options (e.g. ``{"base_url": ...}``).
        metric: Overrides the metric the study optimizes (default: the space's, else the task's).
        artifacts: Where tuned trials' weights are stored: an Optuna artifact store (e.g.
            ``optuna.artifacts.Boto3ArtifactStore``), a folder path (shared by every worker), or
            ``None`` for ``<out_dir>/artifacts``.
        final_progress: A tqdm-like object (``reset(total=...)``, ``update(n)``) advanced while
            the best prompts are re-scored on dev and evaluated on test.
        test_limit: Overrides the space's ``final.test_limit``; ``top``: its ``final.top``.
        force_resume: Resume a stored study even when it was made for another task, search
            space, model, metric or split (by default that is an error naming what differs).
        sampler, pruner: Optuna objects (``optuna.samplers.BaseSampler``,
            ``optuna.pruners.BasePruner``) used instead of the space's ``sampler`` and ``pruner``
            sections, as with ``optuna.create_study``. A pruner object judges a trial by its
            aggregate score at each chunk of examples.

    Attributes (after ``fit``):
        best_prompt_: The winner: your template (the space's first seed template, zero-shot)
            unless a searched prompt or an ensemble beat it on the selection examples (see
            the space's ``selection`` section); never chosen on test.
        leaderboard_: The ranked :class:`~promptsearch.reports.Leaderboard` with test scores.
        study_: The Optuna study.
        split_: The few-shot split used.
        backend_: The backend the trials ran on (also ``scorer_``).
        verbalizers_: The label-word candidates the study chose among.
        selection_examples_: The examples prompts were compared on, in step order.
        estimate_: The cost estimate logged before the trials (``None`` when none were left).
        generation_: How answers were generated (generation tasks; exports keep it).

    Example:
        >>> search = PromptSearch("search_spaces/movies.yaml", n_trials=20, seed=13)  # doctest: +SKIP
        >>> search.fit().best_prompt_.template.source  # doctest: +SKIP
    """

    def __init__(
        self,
        space: SearchSpace | str | Path,
        *,
        task: str | Task | None = None,
        model: Any = None,
        seed: int | None = None,
        n_trials: int | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        out_dir: str | Path | None = None,
        cache: Any = "auto",
        callbacks: Sequence[Callback] = (),
        batch_size: int | None = None,
        device: str = "auto",
        dtype: str | None = None,
        final_progress: Any = None,
        test_limit: int | None = None,
        top: int | None = None,
        backend: str | None = None,
        backend_options: Mapping[str, Any] | None = None,
        metric: str | None = None,
        artifacts: Any = None,
        force_resume: bool = False,
        sampler: Any = None,
        pruner: Any = None,
    ) -> None:
        self.space = space
        self.task = task
        self.model = model
        self.seed = seed
        self.n_trials = n_trials
        self.storage = storage
        self.study_name = study_name
        self.out_dir = out_dir
        self.cache = cache
        self.callbacks = callbacks
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.final_progress = final_progress
        self.test_limit = test_limit
        self.top = top
        self.backend = backend
        self.backend_options = backend_options
        self.metric = metric
        self.artifacts = artifacts
        self.force_resume = force_resume
        self.sampler = sampler
        self.pruner = pruner

    # -- setup ---------------------------------------------------------------------------------
    def _setup(self, out: Path | None, phases: dict[str, float]) -> RunSetup:
        """The run (this search's overrides applied to the space), resolved once."""
        from promptsearch.space import SearchSpace, load_search_space

        space = self.space if isinstance(self.space, SearchSpace) else load_search_space(self.space)
        if self.n_trials is not None and self.n_trials < 1:
            raise ConfigError(f"--trials must be at least 1, got {self.n_trials}.")
        return setup_run(
            space,
            task=self.task,
            model=self.model,
            seed=self.seed,
            overrides=SpaceOverrides(
                backend=self.backend,
                backend_options=dict(self.backend_options or {}),
                metric=self.metric,
                test_limit=self.test_limit,
                top=self.top,
            ),
            storage=self.storage,
            out=out,
            cache=self.cache,
            dtype=self.dtype,
            device=self.device,
            batch_size=self.batch_size,
            phases=phases,
        )

    # -- fit -----------------------------------------------------------------------------------
    def fit(self) -> PromptSearch:
        """Run (or resume) the search, re-score the best on full dev, evaluate them on test."""
        from promptsearch.reports import write_report
        from promptsearch.study import pruners

        started = time.perf_counter()
        out = Path(self.out_dir) if self.out_dir is not None else None
        phases: dict[str, float] = {}
        run = self._setup(out, phases)
        space, task, metric, backend, cache = run.space, run.task, run.metric, run.backend, run.cache
        split = run.split
        name = self.study_name or f"{space.name}-{task.name}-seed{split.seed}"
        study = open_study(
            space,
            name=name,
            storage=run.storage,
            metric=metric,
            seed=split.seed,
            resolution=TIE_BREAK,
            identity=study_identity(
                space, task, backend.name, metric.name, split, deployment=backend.deployment_options
            ),
            force_resume=self.force_resume,
            sampler=self.sampler,
            pruner=self.pruner,
            attrs={
                StudyAttr.TASK: task.name,
                StudyAttr.MODEL: backend.name,
                StudyAttr.SEED: split.seed,
                StudyAttr.K: split.k,
                StudyAttr.METRIC: metric.name,
            },
        )
        pool = (*split.train, *split.dev) if space.selection.examples == "all" and split.train else None
        selection = pool if pool is not None else split.dev
        objective = DevObjective(
            backend,
            task,
            selection,
            at_data_balance(metric, task, selection, split.shares),
            cache=cache,
            chunk_size=space.pruner.chunk_size,
            per_example_reports=pruners.get(space.pruner.name).per_example if self.pruner is None else False,
            seed=split.seed,
            generation=run.generation,
        )
        with timed(phases, "label_words"):
            verbalizers = tuple(verbalizer_pool(study, space, task, split, backend))
            fitted = fitted_verbalizers(study)
        timeout = space.budget.timeout_s
        ctx = SearchContext(
            space=space,
            task=task,
            split=split,
            backend=backend,
            study=study,
            objective=objective,
            verbalizers=verbalizers,
            embedder=run.embedder,
            cache=cache,
            tuned_dir=(out / "tuned") if out is not None else Path(tempfile.mkdtemp(prefix="promptsearch-")),
            artifacts=artifact_store(self.artifacts, out),
            callbacks=tuple(self.callbacks),
            started=started,
            deadline=None if timeout is None else started + timeout,
            batch_size=self.batch_size,
            pool=pool,
            fitted=fitted,
            phases=phases,
        )
        budget = self.n_trials if self.n_trials is not None else space.budget.trials
        done = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished())
        self.estimate_ = estimate_cost(ctx, space.total_trials(budget) - done)
        with stop_on_signals(ctx.stop), timed(phases, "trials"):
            for schedule in schedules(space, budget):
                schedule.run(ctx)
            wait_idle(ctx)
        if ctx.stop.is_set():
            raise SearchInterrupted(
                f"Search stopped after trial {len(study.trials) - 1} (study {name!r} keeps every finished "
                "trial); run the same command again to resume."
            )
        board, best = finalize_once(ctx, name=name, progress=self.final_progress)
        if out is not None:
            write_report(study, board, out)
        self._set_results(ctx, board, best)
        return self

    def _set_results(self, ctx: SearchContext, board: Leaderboard, best: Prompt) -> None:
        from promptsearch.study import TrialRecord
        from promptsearch.tuning import SavedTuning

        self.space_ = ctx.space
        self.study_ = ctx.study
        self.split_ = ctx.split
        self.task_ = ctx.task
        self.backend_ = ctx.backend
        self.scorer_ = ctx.backend
        self.verbalizers_ = ctx.verbalizers
        self.leaderboard_: Leaderboard = board
        self.best_prompt_: Prompt = best
        self.best_row_: LeaderboardRow = board.best
        self.selection_examples_ = ctx.selection_examples
        self.generation_ = ctx.objective.generation
        winner = ctx.study.trials[board.best.trial] if board.best.trial >= 0 else None
        folder = ctx.tuned_folder(winner) if winner is not None else None
        self.best_tuning_: SavedTuning | None = (
            SavedTuning(TrialRecord.of(winner).tuning_mode, folder) if winner is not None and folder else None
        )

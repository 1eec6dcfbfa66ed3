"""``PromptSearch``: one Optuna study over templates, label words, demonstrations and calibration."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import ConfigError, PromptSearchError
from promptsearch.generators._candidate import Candidate
from promptsearch.search._cache import MemoryScoreCache, SQLiteScoreCache
from promptsearch.search._final import finalize
from promptsearch.search._objective import (
    DevScorer,
    build_prompt,
    check_embedder,
    choices_attrs,
    override_final,
    suggest_prompt,
)
from promptsearch.search._pools import initial_pool, next_pool, verbalizer_pool
from promptsearch.search._stage import PROMPT_ATTRS, choose_tuning_bases, count_done, discrete_pending
from promptsearch.search._storage import make_pruner, make_sampler, make_storage, warn_if_space_changed
from promptsearch.search._tuning import (
    SavedTuning,
    TuningChoice,
    TuningStage,
    check_tuning_space,
    load_tuned_scorer,
    make_routed_pruner,
    suggest_tuning,
    tuning_stage,
)

if TYPE_CHECKING:
    import optuna

    from promptsearch.models import LoadedModel
    from promptsearch.reports import Leaderboard, LeaderboardRow
    from promptsearch.scoring import BaseScorer
    from promptsearch.search._space import SearchSpace
    from promptsearch.tasks import FewShotSplit, Task
    from promptsearch.templates import Prompt

__all__ = ["PromptSearch"]

_logger = logging.getLogger(__name__)

Callback = Callable[["optuna.Study", "optuna.trial.FrozenTrial"], None]

class PromptSearch:
    """Find the best prompt for a task and a model (scikit-learn style: configure, then ``fit``).

    Args:
        space: A :class:`~promptsearch.search.SearchSpace`, or the path of a YAML file.
        task: Overrides the space's task (a catalog name, a file, or a :class:`Task`).
        model: Overrides the space's model (a catalog name, folder, hub id or loaded model).
        seed: Few-shot split seed (LM-BFF: 13, 21, 42, 87, 100); also seeds the sampler.
        n_trials: Overrides the space's trial budget.
        storage: Optuna storage URL; default ``sqlite:///<out_dir>/study.db`` (in memory
            without ``out_dir``). Running again with the same storage resumes the study.
        study_name: Default ``<space name>-<task>-seed<seed>``.
        out_dir: Folder for the study, the score cache and the leaderboard files.
        cache: ``"auto"`` (a SQLite file in ``out_dir``, else in memory), a path, or a cache.
        callbacks: Optuna callbacks called after each trial (e.g. a progress bar).
        final_progress: A tqdm-like object (``reset(total=...)``, ``update(n)``) advanced while
            the best prompts are re-scored on dev and evaluated on test.
        test_limit: Overrides the space's ``final.test_limit``; ``top``: its ``final.top``.

    Attributes (after ``fit``):
        best_prompt_: The winner (chosen on the full dev set).
        leaderboard_: The ranked :class:`~promptsearch.reports.Leaderboard` with test scores.
        study_: The Optuna study.
        split_: The few-shot split used.

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

    # -- setup ---------------------------------------------------------------------------------
    def _resolve(self) -> tuple[SearchSpace, Task, FewShotSplit]:
        from promptsearch.search._space import SearchSpace, load_search_space
        from promptsearch.tasks import Task, few_shot_split, load_task

        space = self.space if isinstance(self.space, SearchSpace) else load_search_space(self.space)
        if isinstance(self.task, Task):
            task = self.task
        else:
            if self.task is not None:
                space = space.with_task(self.task)
            space.require_task()
            assert space.task is not None
            task = load_task(space.task.name_or_path, **space.task.loader_kwargs())
        if self.n_trials is not None and self.n_trials < 1:
            raise ConfigError(f"--trials must be at least 1, got {self.n_trials}.")
        seed = space.split.seed if self.seed is None else self.seed
        space = override_final(space, test_limit=self.test_limit, top=self.top)
        split = few_shot_split(task, k=space.split.k, seed=seed)
        return space, task, split.shorten(space.task.max_words if space.task is not None else None)

    def _make_cache(self, out: Path | None) -> Any:
        if self.cache == "auto":
            return SQLiteScoreCache(out / "scores.sqlite") if out else MemoryScoreCache()
        if isinstance(self.cache, (str, Path)):
            return SQLiteScoreCache(self.cache)
        return self.cache

    # -- fit -----------------------------------------------------------------------------------
    def fit(self) -> PromptSearch:
        """Run (or resume) the search, re-score the best on full dev, evaluate them on test."""
        import optuna

        from promptsearch.models import load_model
        from promptsearch.scoring import make_scorer

        started = time.perf_counter()
        space, task, split = self._resolve()
        out = Path(self.out_dir) if self.out_dir is not None else None
        loaded = load_model(
            self.model if self.model is not None else space.model,
            dtype=self.dtype or space.dtype,
            device=self.device,
        )
        scorer = make_scorer(loaded, batch_size=self.batch_size or space.batch_size)
        cache = self._make_cache(out)
        name = self.study_name or f"{space.name}-{task.name}-seed{split.seed}"
        sampler_seed = space.sampler.seed if space.sampler.seed is not None else split.seed
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        pruner = make_pruner(space.pruner.name, dict(space.pruner.options))
        if check_tuning_space(space.tuning) != ("none",):
            pruner = make_routed_pruner(pruner)
        self._embedder = check_embedder(space)
        self._tuned_dir = (
            (out / "tuned") if out is not None else Path(tempfile.mkdtemp(prefix="promptsearch-"))
        )
        study = optuna.create_study(
            storage=make_storage(self.storage, out),
            study_name=name,
            direction="maximize",
            sampler=make_sampler(space.sampler.name, sampler_seed, dict(space.sampler.options)),
            pruner=pruner,
            load_if_exists=True,
        )
        for key, value in (
            ("task", task.name),
            ("model", loaded.name),
            ("seed", split.seed),
            ("k", split.k),
            ("space", json.dumps(space.to_dict())),
        ):
            if key not in study.user_attrs:
                study.set_user_attr(key, value)
        warn_if_space_changed(study, space, name)
        verbalizers = verbalizer_pool(study, space, task, split, scorer)
        dev = DevScorer(
            scorer,
            task,
            split.dev,
            cache=cache,
            chunk_size=space.pruner.chunk_size,
            per_example_reports=space.pruner.name in ("wilcoxon", "sign"),
            seed=split.seed,
        )
        self._run_generations(study, space, task, split, scorer, loaded, dev, verbalizers, started)
        board, best = finalize(
            study,
            space,
            task,
            split,
            scorer,
            dev,
            cache=cache,
            name=name,
            started=started,
            rebuild=lambda t: self._rebuild(t, study, verbalizers, task, split),
            progress=self.final_progress,
            tuned_scorer=lambda t: self._tuned_scorer(t, loaded),
        )
        from promptsearch.reports import store_leaderboard, write_report

        store_leaderboard(study, board)
        if out is not None:
            write_report(study, board, out)
        self.space_ = space
        self.study_ = study
        self.split_ = split
        self.task_ = task
        self.scorer_ = scorer
        self.leaderboard_: Leaderboard = board
        self.best_prompt_: Prompt = best
        self.best_row_: LeaderboardRow = board.best
        best_trial = study.trials[board.best.trial] if board.best.trial >= 0 else None
        mode = best_trial.user_attrs.get("tuning_mode", "none") if best_trial is not None else "none"
        self.best_tuning_: SavedTuning | None = (
            SavedTuning(mode, best_trial.user_attrs["tuning_path"])
            if best_trial is not None and mode != "none"
            else None
        )
        return self

    def _run_generations(
        self,
        study: optuna.Study,
        space: SearchSpace,
        task: Task,
        split: FewShotSplit,
        scorer: BaseScorer,
        loaded: LoadedModel,
        dev: DevScorer,
        verbalizers: Sequence[Any],
        started: float,
    ) -> None:
        """Run each generation's share of the budget, minus the trials the study already has."""

        budget = self.n_trials if self.n_trials is not None else space.budget.trials
        generations = max(1, space.evolution.generations)
        per_gen = [budget // generations + (1 if g < budget % generations else 0) for g in range(generations)]
        deadline = None if space.budget.timeout_s is None else started + space.budget.timeout_s
        pool = initial_pool(study, space, task)
        if not study.trials:
            self._enqueue_baseline(study, space, pool, verbalizers)
        for g in range(generations):
            if g > 0:
                pool = next_pool(study, space, g, pool, scorer=scorer, model=loaded, seed=split.seed)
            if not pool:
                break
            remaining = per_gen[g] - count_done(study, "generation", g)
            if remaining <= 0:
                continue
            timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if timeout is not None and timeout <= 0:
                break
            objective = self._objective(g, pool, verbalizers, space, task, split, dev, loaded)
            self._optimize(study, objective, remaining, timeout)
        stage = tuning_stage(space.tuning)
        if stage is None:
            return
        if "tuning_bases" not in study.user_attrs:
            short, running = discrete_pending(study, per_gen)
            if short or running:
                # Bases chosen now could miss better prompts still to come (or being scored by
                # another worker); running the same command again finishes the search and tunes.
                _logger.warning(
                    "Discrete search not finished (generations %s short of their trials, %d trial(s) "
                    "running): the tuning stage waits for a run that completes it.",
                    short,
                    running,
                )
                return
        self._run_tuning_stage(
            study, stage, space, generations, task, split, loaded, dev, verbalizers, deadline
        )

    def _run_tuning_stage(
        self,
        study: optuna.Study,
        stage: TuningStage,
        space: SearchSpace,
        generation: int,
        task: Task,
        split: FewShotSplit,
        loaded: LoadedModel,
        dev: DevScorer,
        verbalizers: Sequence[Any],
        deadline: float | None,
    ) -> None:
        """Staged schedule: tune the ``stage.top`` best discrete prompts in ``stage.trials`` trials.

        The base trials are fixed once, in the study's attributes, so that a resumed run or
        another worker tunes the same prompts. Trials stopped by the pruner rank after every
        fully scored one (their partial dev means are not comparable).
        """

        timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
        if timeout is not None and timeout <= 0:
            return
        bases = choose_tuning_bases(study, stage.top)
        if not bases:
            _logger.warning("No completed discrete trial to tune; the tuning stage is skipped.")
            return
        remaining = stage.trials - count_done(study, "stage", "tuning")
        if remaining <= 0:
            return
        trials = study.get_trials(deepcopy=False)

        def objective(trial: optuna.Trial) -> float:
            base = trials[int(trial.suggest_categorical("tuning_base", bases))]
            prompt = self._rebuild(base, study, verbalizers, task, split)
            for key in PROMPT_ATTRS:
                if key in base.user_attrs:
                    trial.set_user_attr(key, base.user_attrs[key])
            trial.set_user_attr("generation", generation)
            trial.set_user_attr("stage", "tuning")
            tuning = suggest_tuning(trial, space.tuning, stage=True)
            return self._tuned_trial(trial, tuning, prompt, loaded, split, dev)

        self._optimize(study, objective, remaining, timeout)

    def _optimize(
        self, study: optuna.Study, objective: Callable[..., float], n_trials: int, timeout: float | None
    ) -> None:
        """Run trials; a trial failing with a PromptSearchError is recorded and the study goes on."""
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=timeout,
            callbacks=list(self.callbacks),
            catch=(PromptSearchError,),
        )

    @staticmethod
    def _enqueue_baseline(
        study: optuna.Study, space: SearchSpace, pool: Sequence[Candidate], verbalizers: Sequence[Any]
    ) -> None:
        """Make the first trial the first seed template with the first label words, zero-shot.

        As DSPy's MIPROv2 does: the pruner then compares every later trial with at least the
        hand-written baseline, so poor random starts stop after a few examples.
        """
        seeds = [c for c in pool if c.origin == "seed"]
        if not seeds or not verbalizers:
            return
        params: dict[str, Any] = {"template_g0": seeds[0].id, "verbalizer": str(verbalizers[0])}
        if 0 in space.demonstrations.counts:
            params["n_demos"] = 0
        if False in space.calibration:
            params["calibrate"] = False
        modes = check_tuning_space(space.tuning)
        if modes != ("none",) and "none" in modes and tuning_stage(space.tuning) is None:
            params["tuning_mode"] = "none"
        study.enqueue_trial(params)

    def _objective(
        self,
        generation: int,
        pool: Sequence[Candidate],
        verbalizers: Sequence[Any],
        space: SearchSpace,
        task: Task,
        split: FewShotSplit,
        dev: DevScorer,
        loaded: LoadedModel,
    ) -> Callable[..., float]:
        demos = space.demonstrations
        staged = tuning_stage(space.tuning) is not None  # Discrete trials first, tuning after.

        def objective(trial: optuna.Trial) -> float:
            choices = suggest_prompt(
                trial,
                generation=generation,
                pool=pool,
                verbalizers=verbalizers,
                demo_counts=demos.counts,
                demo_selection=demos.selection,
                demo_orders=demos.order,
                demo_seeds=demos.seeds,
                calibration=space.calibration,
            )
            prompt = build_prompt(choices, task, split.train, split_seed=split.seed, embedder=self._embedder)
            for key, value in choices_attrs(choices, prompt, generation).items():
                trial.set_user_attr(key, value)
            tuning = TuningChoice("none") if staged else suggest_tuning(trial, space.tuning)
            if tuning.mode == "none":
                return dev.run(trial, prompt)
            return self._tuned_trial(trial, tuning, prompt, loaded, split, dev)

        return objective

    def _tuned_trial(
        self,
        trial: optuna.Trial,
        tuning: TuningChoice,
        prompt: Prompt,
        loaded: LoadedModel,
        split: FewShotSplit,
        dev: DevScorer,
    ) -> float:
        """Train a soft prompt or fine-tune, reporting the training curve, then score on dev."""
        from promptsearch.scoring import make_scorer
        from promptsearch.tuning import tuners

        def report(step: int, accuracy: float) -> bool:
            trial.report(accuracy, tuning.step_offset + step)
            if trial.should_prune():
                trial.set_user_attr("training_stopped_at", step)
                return True
            return False

        result = tuners.get(tuning.mode)(loaded, prompt, split.train, split.dev, tuning.config, report=report)
        folder = self._tuned_dir / f"trial-{trial.number}"
        result.save(folder)
        trial.set_user_attr("tuning_mode", tuning.mode)
        trial.set_user_attr("tuning_path", str(folder.resolve()))
        trial.set_user_attr("train_seconds", float(result.seconds))
        trial.set_user_attr("seconds_per_step", float(result.seconds_per_step))
        trial.set_user_attr("peak_memory_mb", float(result.peak_memory_mb))
        if tuning.mode in ("prompt_tuning", "bbt"):
            scorer = result.scorer(loaded, batch_size=self.batch_size)
        else:
            scorer = make_scorer(result.model, batch_size=self.batch_size)
        return dev.run(trial, prompt, scorer=scorer)

    def _tuned_scorer(self, trial: optuna.trial.FrozenTrial, loaded: LoadedModel) -> BaseScorer | None:
        """The scorer a finished tuned trial used (``None``: the study's own)."""
        mode = trial.user_attrs.get("tuning_mode")
        if not mode or mode == "none":
            return None
        return load_tuned_scorer(
            loaded, str(mode), trial.user_attrs["tuning_path"], batch_size=self.batch_size
        )

    def _rebuild(
        self,
        trial: optuna.trial.FrozenTrial,
        study: optuna.Study,
        verbalizers: Sequence[Any],
        task: Task,
        split: FewShotSplit,
    ) -> Prompt:
        """Rebuild the prompt a finished trial scored, from its parameters and attributes."""
        from promptsearch.search._objective import PromptChoices, candidate_from_attrs

        if "tuning_base" in trial.params:  # A trial of the tuning stage: its base's prompt.
            trial = study.trials[int(trial.params["tuning_base"])]
        params = trial.params
        candidate = candidate_from_attrs(trial.user_attrs)
        verb = {str(v): v for v in verbalizers}[params["verbalizer"]]
        choices = PromptChoices(
            candidate,
            verb,
            int(params.get("n_demos", 0)),
            str(params.get("demo_selection", "random")),
            str(params.get("demo_order", "random")),
            int(params.get("demo_seed", 0)),
            bool(params.get("calibrate", False)),
        )
        return build_prompt(choices, task, split.train, split_seed=split.seed, embedder=self._embedder)

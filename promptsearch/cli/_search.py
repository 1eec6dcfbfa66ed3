"""``promptsearch search SPACE.yaml``: run or resume a prompt search."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from promptsearch.cli._common import check_at_least, check_folder, progress_bar
from promptsearch.exceptions import ConfigError

__all__ = ["register"]

_IN_MEMORY = ("sqlite://", "sqlite:///:memory:")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "search",
        help="search prompts with a search space",
        description="Generate candidate prompts and optimize template, label words, demonstrations and "
        "calibration jointly with Optuna. Running the same command again resumes the study.",
    )
    p.add_argument("space", help="search space YAML (see search_spaces/)")
    p.add_argument("--trials", type=int, default=None, help="trial budget (default: the space's)")
    p.add_argument("--seed", type=int, default=None, help="few-shot split seed (default: the space's)")
    p.add_argument(
        "--seeds",
        default=None,
        help="comma-separated split seeds, e.g. 13,21,42,87,100: one search per seed plus baselines",
    )
    p.add_argument(
        "--storage",
        default=None,
        help="Optuna storage URL (default: sqlite:///OUT/study.db; journal:OUT/study.log with --workers)",
    )
    p.add_argument("--study", default=None, help="study name (default: derived from space, task and seed)")
    p.add_argument(
        "--force-resume",
        action="store_true",
        help="resume the stored study even if it was made for another task, space, model, metric or split",
    )
    p.add_argument("--out", default=None, help="output folder (default: runs/<space name>)")
    p.add_argument("--task", default=None, help="catalog name or local file overriding the space's task")
    p.add_argument(
        "--text-field",
        action="append",
        default=None,
        help="input column of a --task file; COLUMN=FIELD maps it to a template field "
        "(one plain column becomes the space's field, e.g. {text}); repeat for several",
    )
    p.add_argument(
        "--label-field", default=None, help="label (or, multiple choice, answer) column of a --task file"
    )
    p.add_argument(
        "--target-field",
        default=None,
        help="generation: the column of a --task file with the reference text (or a list of them)",
    )
    p.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="write the best prompt to DIR, for `promptsearch predict` and load_prompt()",
    )
    p.add_argument("--top", type=int, default=None, help="prompts evaluated on test (default: the space's)")
    p.add_argument(
        "--test-limit", type=int, default=None, help="test examples per prompt (default: the space's)"
    )
    p.add_argument(
        "--metric", default=None, help="the metric to optimize (default: the space's, else the task's)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on this machine sharing the study (default 1): this one plus N-1 started "
        "for it, on --storage or else the study file in OUT; their logs go to OUT/workers/",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="compute threads per worker process (torch, OpenMP, BLAS; default: all cores for one "
        "worker, cores // N for --workers N)",
    )
    p.add_argument(
        "--artifacts",
        default=None,
        metavar="DIR",
        help="folder of the artifact store holding tuned weights (default: OUT/artifacts); workers on "
        "several machines need one they all reach",
    )
    p.add_argument("--score-cache", default=None, help=argparse.SUPPRESS)  # set for the extra workers
    from promptsearch.cli._evaluate import add_model_options

    add_model_options(p)
    p.set_defaults(handler=run, search_actions=tuple(p._actions))


def _task_override(args: argparse.Namespace, field: str = "text") -> Any:
    """The task given on the command line, with its columns mapped to the space's fields.

    ``--text-field COLUMN=FIELD`` maps a column to a template field; a single plain
    ``--text-field COLUMN`` becomes the space's field (``{text}`` in the shipped spaces).
    """
    if args.task is None:
        if args.text_field or args.label_field or args.target_field:
            raise ConfigError("--text-field, --label-field and --target-field need --task FILE.")
        return None
    if not (args.text_field or args.label_field or args.target_field):
        return args.task
    spec: dict[str, Any] = {"name_or_path": args.task}
    if args.text_field:
        pairs = [tuple(f.split("=", 1)) if "=" in f else (f, None) for f in args.text_field]
        if len(pairs) == 1 and pairs[0][1] is None:
            pairs = [(pairs[0][0], field)]
        spec["text_fields"] = {col: (name or col) for col, name in pairs}
    if args.label_field:
        spec["label_field"] = args.label_field
    if args.target_field:
        spec["target_field"] = args.target_field
    return spec


def _space_field(space: Any) -> str:
    grammar = space.templates.grammar
    return str(grammar.field) if grammar is not None else "text"


class _TrialBar:
    """Feeds a tqdm bar with the study's finished trials, every worker's (the bar's total is the
    study's budget), the best value so far, the pruned trials and this process's cache hits.

    Called as an Optuna callback after each of this process's trials, and by :meth:`refresh`
    every second while other workers may be finishing trials.
    """

    def __init__(self, bar: Any, cache_hits: Any) -> None:
        self.bar = bar
        self.cache_hits = cache_hits
        self.study: Any = None
        self._lock = threading.Lock()

    def __call__(self, study: Any, trial: Any) -> None:
        self.study = study
        self.refresh()

    def refresh(self) -> None:
        """Read the study (once a trial of this process has named it) and redraw the bar."""
        study = self.study
        if study is None:
            return
        from promptsearch.study import is_pruned, is_scored

        finished = [t for t in study.get_trials(deepcopy=False) if is_scored(t)]
        pruned = sum(1 for t in finished if is_pruned(t))
        try:
            best = f"{study.best_value:.3f}"
        except ValueError:
            best = "-"
        with self._lock:
            self.bar.set_postfix(best=best, pruned=pruned, cache_hits=self.cache_hits(), refresh=False)
            if len(finished) > self.bar.n:
                self.bar.update(len(finished) - self.bar.n)  # update, not refresh: tqdm then erases it
            else:
                self.bar.refresh()


def _overrides(args: argparse.Namespace) -> Any:
    """``--backend`` (and its options), ``--metric``, ``--test-limit`` and ``--top``."""
    from promptsearch.cli._evaluate import backend_options
    from promptsearch.engine import SpaceOverrides

    return SpaceOverrides(
        backend=args.backend,
        backend_options=backend_options(args),
        metric=args.metric,
        test_limit=args.test_limit,
        top=args.top,
    )


def parse_seeds(text: str) -> list[int]:
    """The split seeds of ``--seeds 13,21,42``: distinct whole numbers >= 0.

    Raises:
        ConfigError: naming the entry that is not a seed.
    """
    seeds: list[int] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            seed = int(entry)
        except ValueError:
            raise ConfigError(
                f"--seeds {text!r}: {entry!r} is not a whole number; give comma-separated split seeds, "
                "e.g. --seeds 13,21,42,87,100."
            ) from None
        if seed < 0 or seed in seeds:
            why = "is negative" if seed < 0 else "appears twice"
            raise ConfigError(
                f"--seeds {text!r}: seed {seed} {why}; give distinct seeds >= 0, e.g. 13,21,42."
            )
        seeds.append(seed)
    if not seeds:
        raise ConfigError(f"--seeds {text!r} names no seed; give comma-separated split seeds, e.g. 13,21,42.")
    return seeds


def _check_args(args: argparse.Namespace) -> list[int] | None:
    """Check the options before anything is loaded; return the ``--seeds`` (None without)."""
    check_at_least(args, trials=1, top=1, test_limit=1, batch_size=1, seed=0, workers=1, threads=1)
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    if args.workers > 1 and seeds is not None:
        raise ConfigError(
            f"--workers {args.workers} shares one search among processes, and --seeds runs one search per "
            "seed; run one command per seed with --seed N --workers N, or leave out --workers."
        )
    if args.workers > 1 and args.storage in _IN_MEMORY:
        raise ConfigError(
            f"--workers {args.workers} needs a storage that every worker process opens, and "
            f"{args.storage!r} lives in one process's memory; leave out --storage (the study goes to a "
            "file in the output folder) or give a file or a server, e.g. journal:runs/study.log."
        )
    if seeds is not None and args.export:
        raise ConfigError("--export needs a single --seed: --seeds runs one search per seed.")
    if seeds is not None and args.seed is not None:
        raise ConfigError(
            "Give either --seed N (one search) or --seeds N,M,... (one search per seed), not both."
        )
    if args.export:
        check_folder(args.export, "--export")
    if args.storage is not None:
        from promptsearch.study import check_storage

        check_storage(args.storage)  # before the task and the model are loaded
    return seeds


def run(args: argparse.Namespace) -> int:
    from promptsearch.cli._workers import set_threads, threads_per_worker
    from promptsearch.search import load_search_space

    seeds = _check_args(args)
    threads = args.threads
    if threads is None and args.workers > 1:
        threads = threads_per_worker(args.workers)
    if threads is not None:
        set_threads(threads)  # before the model loads
    space = _overrides(args).apply(load_search_space(args.space))
    out = Path(args.out) if args.out else Path("runs") / space.name
    check_folder(out, "--out")
    if seeds is not None:
        from promptsearch.search import run_protocol

        result = run_protocol(
            space,
            seeds=seeds,
            out_dir=out,
            task=_task_override(args, _space_field(space)),
            model=args.model,
            n_trials=args.trials,
            storage=args.storage,
            batch_size=args.batch_size,
            device=args.device,
            dtype=None if args.dtype == "auto" else args.dtype,
            progress=not args.quiet,
        )
        sys.stdout.write(result.markdown() + "\n")
        return 0
    search = _search(args, space, out, threads)
    from promptsearch.reports import leaderboard_markdown

    sys.stdout.write(leaderboard_markdown(search.leaderboard_))
    sys.stdout.write(f"\nBest prompt and the full report: {out / 'leaderboard.md'}, {out / 'report.html'}\n")
    if args.export:
        from promptsearch.export import export_search

        path = export_search(search, args.export, tuning=search.best_tuning_, overwrite=True)
        sys.stdout.write(f"Exported the best prompt to {path} (use: promptsearch predict {path} ...)\n")
    return 0


def _search(args: argparse.Namespace, space: Any, out: Path, threads: int | None) -> Any:
    """Run the search of ``space`` in this process, with ``--workers`` - 1 more processes."""
    from promptsearch.cli._workers import KILL_GRACE_S, WorkerFailed, monitor, quiet_surplus_trials
    from promptsearch.engine import run_cache, run_storage
    from promptsearch.exceptions import SearchInterrupted
    from promptsearch.search import PromptSearch

    quiet_surplus_trials()
    storage = run_storage(args.storage, out, workers=args.workers)
    # Workers sharing a study given by --storage share its score cache too (the extra workers
    # are given this one's: their --storage is given).
    cache = run_cache(args.score_cache or "auto", args.storage, out)
    budget = space.total_trials(args.trials)
    pool = None
    if args.workers > 1:
        pool = _workers(args, out, storage, getattr(cache, "path", None), threads)
    with (
        progress_bar(budget, "trials", enabled=not args.quiet, unit="trial") as bar,
        progress_bar(0, "final evaluation", enabled=not args.quiet) as final_bar,
    ):
        trial_bar = _TrialBar(bar, lambda: getattr(cache, "hits", 0))
        search = PromptSearch(
            space,
            task=_task_override(args, _space_field(space)),
            model=args.model,
            seed=args.seed,
            n_trials=args.trials,
            storage=storage,
            study_name=args.study,
            out_dir=out,
            cache=cache,
            callbacks=[trial_bar],
            batch_size=args.batch_size,
            device=args.device,
            dtype=None if args.dtype == "auto" else args.dtype,
            final_progress=final_bar,
            test_limit=args.test_limit,
            top=args.top,
            artifacts=args.artifacts,
            force_resume=args.force_resume,
        )
        shared = pool is not None or args.storage is not None  # other workers may finish trials
        try:
            if pool is not None:
                pool.start()
            with monitor(trial_bar.refresh if shared and not bar.disable else None, pool):
                search.fit()
            if pool is not None:
                pool.wait()  # they read the leaderboard this process or one of them made
        except BaseException as exc:
            if pool is None:
                raise
            failure = pool.failure()  # a worker's failure interrupts this process: then exc says "stopped"
            pool.stop(grace=KILL_GRACE_S if isinstance(exc, KeyboardInterrupt) and failure is None else None)
            if failure is not None and isinstance(exc, (SearchInterrupted, KeyboardInterrupt)):
                raise WorkerFailed(failure) from None
            raise
    return search


#: Options of this command that the extra workers get with values of their own.
_OWN_OPTIONS = frozenset(
    {"help", "workers", "threads", "out", "storage", "export", "artifacts", "score_cache"}
)


def worker_options(args: argparse.Namespace) -> list[str]:
    """The options given to this command that the extra workers repeat (``--flag=value``)."""
    options: list[str] = []
    for action in args.search_actions:
        if not action.option_strings or action.dest in _OWN_OPTIONS:
            continue
        value = getattr(args, action.dest, action.default)
        if value is None or value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:  # a switch
            options.append(flag)
        elif isinstance(value, list):
            options += [f"{flag}={v}" for v in value]
        else:
            options.append(f"{flag}={value}")
    return options


def _workers(
    args: argparse.Namespace,
    out: Path,
    storage: str | None,
    cache_file: str | Path | None,
    threads: int | None,
) -> Any:
    """The ``--workers`` - 1 extra worker processes (not started yet)."""
    from promptsearch.cli._workers import THREAD_VARIABLES, LocalWorkers

    artifacts = Path(args.artifacts) if args.artifacts else out / "artifacts"
    common = [
        sys.executable,
        "-m",
        "promptsearch",
        "-q",
        "search",
        args.space,
        *worker_options(args),
        f"--storage={storage}",
        f"--artifacts={artifacts.resolve()}",
    ]
    if cache_file is not None:
        common.append(f"--score-cache={Path(cache_file).resolve()}")
    if threads is not None:
        common.append(f"--threads={threads}")
    folders = [(out / "workers" / str(k)).resolve() for k in range(2, args.workers + 1)]
    return LocalWorkers(
        [[*common, f"--out={folder}"] for folder in folders],
        [folder / "worker.log" for folder in folders],
        env={name: str(threads) for name in THREAD_VARIABLES} if threads is not None else {},
    )

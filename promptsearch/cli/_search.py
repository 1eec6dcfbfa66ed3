"""``promptsearch search SPACE.yaml``: run or resume a prompt search."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from promptsearch.cli._common import check_at_least, check_folder, progress_bar
from promptsearch.exceptions import ConfigError

__all__ = ["register"]


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
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite:///OUT/study.db)")
    p.add_argument("--study", default=None, help="study name (default: derived from space, task and seed)")
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
    from promptsearch.cli._evaluate import add_model_options

    add_model_options(p)
    p.set_defaults(handler=run)


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
    """Optuna callback feeding a tqdm bar: trials done, best so far, pruned, cache hits."""

    def __init__(self, bar: Any, cache_hits: Any) -> None:
        self.bar = bar
        self.cache_hits = cache_hits
        self.pruned = 0

    def __call__(self, study: Any, trial: Any) -> None:
        if "pruned_at" in trial.user_attrs or trial.state.name == "PRUNED":
            self.pruned += 1
        try:
            best = f"{study.best_value:.3f}"
        except ValueError:
            best = "-"
        self.bar.set_postfix(best=best, pruned=self.pruned, cache_hits=self.cache_hits(), refresh=False)
        self.bar.update(1)


def _with_overrides(space: Any, args: argparse.Namespace) -> Any:
    """The space with ``--backend`` and ``--metric`` applied (checked like the YAML keys)."""
    from dataclasses import replace

    from promptsearch.space import BackendSpec

    if args.backend is not None:
        space = replace(space, backend=BackendSpec(args.backend, space.backend.options))
    if args.metric is not None:
        space = replace(space, metric=args.metric)
    return space


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
    check_at_least(args, trials=1, top=1, test_limit=1, batch_size=1, seed=0)
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
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
    from promptsearch.reports import leaderboard_markdown
    from promptsearch.search import PromptSearch, SQLiteScoreCache, load_search_space

    seeds = _check_args(args)
    space = load_search_space(args.space)
    space = _with_overrides(space, args)
    out = Path(args.out) if args.out else Path("runs") / space.name
    check_folder(out, "--out")
    if seeds is not None:
        from promptsearch.engine import override_final
        from promptsearch.search import run_protocol

        space = override_final(space, test_limit=args.test_limit, top=args.top)
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
    from promptsearch.study import cache_for_storage

    # Workers sharing a study given by --storage share its score cache too.
    cache = cache_for_storage(args.storage) if args.storage else SQLiteScoreCache(out / "scores.sqlite")
    budget = space.total_trials(args.trials)
    with (
        progress_bar(budget, "trials", enabled=not args.quiet, unit="trial") as bar,
        progress_bar(0, "final evaluation", enabled=not args.quiet) as final_bar,
    ):
        search = PromptSearch(
            space,
            task=_task_override(args, _space_field(space)),
            model=args.model,
            seed=args.seed,
            n_trials=args.trials,
            storage=args.storage,
            study_name=args.study,
            out_dir=out,
            cache=cache,
            callbacks=[_TrialBar(bar, lambda: cache.hits)],
            batch_size=args.batch_size,
            device=args.device,
            dtype=None if args.dtype == "auto" else args.dtype,
            final_progress=final_bar,
            test_limit=args.test_limit,
            top=args.top,
        )
        search.fit()
    sys.stdout.write(leaderboard_markdown(search.leaderboard_))
    sys.stdout.write(f"\nBest prompt and the full report: {out / 'leaderboard.md'}, {out / 'report.html'}\n")
    if args.export:
        from promptsearch.export import export_search

        path = export_search(search, args.export, tuning=search.best_tuning_, overwrite=True)
        sys.stdout.write(f"Exported the best prompt to {path} (use: promptsearch predict {path} ...)\n")
    return 0

"""Pruning + cache vs evaluating every trial on the full dev set: same winner, fewer passes?

Run A is the normal search: Wilcoxon pruning on per-example dev scores plus the score cache.
Run B replays exactly A's trials (same candidate pools, same parameters, in the same order) with
no pruner and no cache, so every trial is scored on the whole dev set. The script prints the
winner of each and the example forward passes each spent during the trials, side by side.

    python benchmarks/pruning_efficiency.py --trials 60 --seed 13 --dtype bfloat16
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import optuna

from promptsearch.models import load_model
from promptsearch.search import PromptSearch, load_search_space


def trial_passes(study: optuna.Study) -> int:
    return sum(int(t.user_attrs.get("evaluations", 0)) for t in study.trials)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="search_spaces/movies.yaml")
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--pruner", default=None, help="pruner of run A (default: the space's)")
    ap.add_argument("--p-threshold", type=float, default=None, help="pruner p threshold of run A")
    ap.add_argument("--out", default=None, help="folder for both runs (default: a temporary one)")
    args = ap.parse_args()

    out = Path(args.out or tempfile.mkdtemp(prefix="ps-pruning-"))
    space = load_search_space(args.space)
    space = replace(space, final=replace(space.final, test_limit=100, top=5))
    if args.pruner:
        space = replace(space, pruner=replace(space.pruner, name=args.pruner))
    if args.p_threshold is not None:
        options = {**dict(space.pruner.options), "p_threshold": args.p_threshold}
        space = replace(space, pruner=replace(space.pruner, options=options))
    model = load_model(space.model, dtype=args.dtype)

    a = PromptSearch(space, model=model, seed=args.seed, n_trials=args.trials, out_dir=out / "pruned").fit()

    # Run B: copy A's pools and verbalizers into a fresh study and enqueue A's trials in order.
    b_space = replace(space, pruner=replace(space.pruner, name="none"))
    storage = f"sqlite:///{(out / 'full' / 'study.db').resolve()}"
    (out / "full").mkdir(parents=True, exist_ok=True)
    name = a.study_.study_name
    b_study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True)
    for key, value in a.study_.user_attrs.items():
        if key.startswith("pool_g") or key == "verbalizers":
            b_study.set_user_attr(key, value)
    for t in sorted(a.study_.trials, key=lambda t: t.number):
        if t.state.is_finished() and t.params:
            b_study.enqueue_trial(t.params, skip_if_exists=False)
    b = PromptSearch(
        b_space,
        model=model,
        seed=args.seed,
        n_trials=args.trials,
        storage=storage,
        study_name=name,
        out_dir=out / "full",
        cache=None,
    ).fit()

    pa, pb = trial_passes(a.study_), trial_passes(b.study_)
    same = a.leaderboard_.best.prompt_id == b.leaderboard_.best.prompt_id
    result = {
        "pruner": space.pruner.name,
        "pruner_options": dict(space.pruner.options),
        "trials": args.trials,
        "dev_examples": len(a.split_.dev),
        "pruned_cached": {
            "winner": a.leaderboard_.best.prompt_id,
            "dev": a.leaderboard_.best.dev_score,
            "forward_passes": pa,
            "pruned_trials": a.leaderboard_.n_pruned,
        },
        "full_no_cache": {
            "winner": b.leaderboard_.best.prompt_id,
            "dev": b.leaderboard_.best.dev_score,
            "forward_passes": pb,
        },
        "same_winner": same,
        "ratio": pa / pb if pb else None,
    }
    print(json.dumps(result, indent=2))
    print(
        f"\npruning + cache: {pa} forward passes; every trial on full dev: {pb}; "
        f"ratio {pa / pb:.3f}; same winner: {same}"
    )


if __name__ == "__main__":
    main()

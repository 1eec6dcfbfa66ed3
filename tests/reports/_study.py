"""A small hand-made study and leaderboard, shaped like a real search's (three generations)."""

from __future__ import annotations

import json
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from promptsearch.reports import Leaderboard, LeaderboardRow

XSS = "<script>alert(1)</script>"

# id -> (instruction, template, origin, parents, generation, detail)
CANDIDATES: dict[str, tuple[str, str, str, tuple[str, ...], int, str]] = {
    "seedA": ("Classify the review.", "Review: {text}\nSentiment: {label}", "seed", (), 0, ""),
    "seedB": ("", "{text} It was {label}.", "seed", (), 0, ""),
    "gramC": ("Is it good?", "Text: {text}\nAnswer: {label}", "grammar", (), 0, "sampled"),
    "delD": (
        "Classify review.",
        "Review: {text}\nSentiment: {label}",
        "delete",
        ("seedA",),
        1,
        "deleted 'the'",
    ),
    "crossE": ("Is it good?", "{text} It was {label}.", "crossover", ("seedB", "gramC"), 1, "B x C"),
    "subF": (
        f"Classify review {XSS}.",
        "Review: {text}\nSentiment: {label}",
        "substitute",
        ("delD",),
        2,
        f"replaced 'x' with {XSS}",
    ),
}
POOLS = {0: ["seedA", "seedB", "gramC"], 1: ["seedA", "delD", "crossE"], 2: ["delD", "subF"]}

# (generation, candidate, value, state, pruned_at)
TRIALS: list[tuple[int, str, float | None, TrialState, int | None]] = [
    (0, "seedA", 0.62, TrialState.COMPLETE, None),
    (0, "seedB", 0.55, TrialState.COMPLETE, None),
    (0, "gramC", 0.51, TrialState.COMPLETE, 8),
    (0, "seedA", 0.66, TrialState.COMPLETE, None),
    (0, "gramC", None, TrialState.FAIL, None),
    (1, "delD", 0.70, TrialState.COMPLETE, None),
    (1, "crossE", 0.58, TrialState.COMPLETE, None),
    (1, "seedA", 0.60, TrialState.COMPLETE, None),
    (1, "crossE", None, TrialState.PRUNED, None),
    (2, "subF", 0.78, TrialState.COMPLETE, None),
    (2, "delD", 0.69, TrialState.COMPLETE, None),
    (2, "subF", 0.74, TrialState.COMPLETE, 16),
]


def _pool_json(generation: int) -> str:
    items = []
    for cid in POOLS[generation]:
        ins, tpl, origin, parents, gen, detail = CANDIDATES[cid]
        carried = gen < generation  # parents carried into later pools lose their detail
        items.append(
            {
                "id": cid,
                "instruction": ins,
                "template": tpl,
                "origin": origin,
                "parents": list(parents),
                "generation": gen,
                "detail": "" if carried else detail,
            }
        )
    return json.dumps(items)


def make_study(storage: Any = None, name: str = "demo") -> optuna.Study:
    """Create (and fill) the study in ``storage`` (in memory by default)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    for key, value in (("task", "sst2"), ("model", "tiny"), ("seed", 13), ("k", 16)):
        study.set_user_attr(key, value)
    for g in POOLS:
        study.set_user_attr(f"pool_g{g}", _pool_json(g))
    study.set_user_attr("verbalizers", json.dumps([{"negative": ["bad"], "positive": ["good"]}]))
    for i, (gen, cid, value, state, pruned_at) in enumerate(TRIALS):
        ins, tpl, origin, parents, _, _ = CANDIDATES[cid]
        n_demos = (0, 2, 4)[i % 3]
        params: dict[str, Any] = {
            f"template_g{gen}": cid,
            "verbalizer": "bad|good",
            "n_demos": n_demos,
            "calibrate": bool(i % 2),
            "demo_seed": i % 4,
        }
        dists: dict[str, Any] = {
            f"template_g{gen}": CategoricalDistribution(POOLS[gen]),
            "verbalizer": CategoricalDistribution(["bad|good", "awful|great"]),
            "n_demos": CategoricalDistribution([0, 2, 4]),
            "calibrate": CategoricalDistribution([False, True]),
            "demo_seed": IntDistribution(0, 3),
        }
        attrs: dict[str, Any] = {
            "generation": gen,
            "candidate_id": cid,
            "prompt_id": f"p{cid}{n_demos}",
            "origin": origin,
            "parents": list(parents),
            "instruction": ins,
            "template": tpl,
            "verbalizer_words": "{}",
            "n_demos_used": n_demos,
            "selection": "random" if n_demos else "none",
            "n_evaluated": 32,
            "dev_accuracy": value or 0.0,
            "evaluations": 32,
        }
        if pruned_at is not None:
            attrs["pruned_at"] = pruned_at
        study.add_trial(
            create_trial(
                state=state,
                value=value if state == TrialState.COMPLETE else None,
                params=params,
                distributions=dists,
                user_attrs=attrs,
                intermediate_values={0: value} if value is not None else None,
            )
        )
    return study


def _row(rank: int, cid: str, dev: float, test: float, trial: int) -> LeaderboardRow:
    ins, tpl, origin, parents, gen, _ = CANDIDATES[cid]
    return LeaderboardRow(
        rank=rank,
        prompt_id=f"p{cid}",
        candidate_id=cid,
        instruction=ins,
        template=tpl,
        verbalizer="bad|good",
        n_demos=2 if rank == 1 else 0,
        demo_selection="random" if rank == 1 else "none",
        calibrate=rank == 2,
        dev_score=dev,
        dev_n=32,
        test_metrics={"accuracy": test, "macro_f1": test - 0.01},
        test_ci_low=test - 0.05,
        test_ci_high=test + 0.05,
        test_n=100,
        evaluations=64 * rank,
        trial=trial,
        generation=gen,
        origin=origin,
        parents=parents,
        labels=("negative", "positive"),
        confusion=((40, 10), (8, 42)),
        per_class={
            "negative": {"precision": 0.83, "recall": 0.8, "f1": 0.82, "support": 50},
            "positive": {"precision": 0.81, "recall": 0.84, "f1": 0.82, "support": 50},
        },
    )


def make_leaderboard(
    seed: int = 13,
    test: float = 0.82,
    dev: float = 0.78,
    *,
    task: str = "sst2",
    model: str = "tiny",
    study_name: str = "demo",
) -> Leaderboard:
    rows = (
        _row(1, "subF", dev, test, 9),
        _row(2, "delD", dev - 0.08, test - 0.04, 5),
        _row(3, "seedA", dev - 0.12, test - 0.1, 3),
    )
    return Leaderboard(
        task=task,
        model=model,
        seed=seed,
        study_name=study_name,
        rows=rows,
        n_trials=12,
        n_pruned=3,
        forward_passes=384,
        cache_hits=20,
        seconds=12.5,
    )

"""After the trials: re-score the best prompts on the full dev set, then evaluate them on test."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promptsearch.evaluation import evaluate_prompt
from promptsearch.exceptions import PromptSearchError
from promptsearch.reports import Leaderboard, LeaderboardRow

if TYPE_CHECKING:
    import optuna

    from promptsearch.scoring import BaseScorer
    from promptsearch.search._objective import DevScorer
    from promptsearch.search._space import SearchSpace
    from promptsearch.tasks import FewShotSplit, Task
    from promptsearch.templates import Prompt

__all__ = ["finalize"]

_logger = logging.getLogger(__name__)


def finalize(
    study: optuna.Study,
    space: SearchSpace,
    task: Task,
    split: FewShotSplit,
    scorer: BaseScorer,
    dev: DevScorer,
    *,
    cache: Any,
    name: str,
    started: float,
    rebuild: Callable[[optuna.trial.FrozenTrial], Prompt],
    progress: Any = None,
    tuned_scorer: Callable[[optuna.trial.FrozenTrial], BaseScorer | None] | None = None,
) -> tuple[Leaderboard, Prompt]:
    """Rank distinct prompts on the full dev set (pruned ones are completed from the cache)."""
    import optuna

    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.value is not None and "prompt_id" in t.user_attrs
    ]
    if not trials:
        raise PromptSearchError(
            f"Study {name!r} has no completed trial; check the log for failed trials and run again."
        )
    cost: dict[str, int] = {}
    best_trial: dict[str, optuna.trial.FrozenTrial] = {}
    for t in trials:
        pid = _entry_key(t)
        cost[pid] = cost.get(pid, 0) + int(t.user_attrs.get("evaluations", 0))
        if pid not in best_trial or (t.value or 0.0) > (best_trial[pid].value or 0.0):
            best_trial[pid] = t
    ranked = sorted(best_trial.values(), key=lambda t: -(t.value or 0.0))[: max(1, space.final.top) * 2]
    limit = space.final.test_limit
    test = list(split.test)[:limit] if limit else list(split.test)
    n_top = max(1, space.final.top)
    if progress is not None:
        progress.reset(total=len(ranked) * len(split.dev) + min(n_top, len(ranked)) * len(test))
    rescored: list[tuple[float, float, optuna.trial.FrozenTrial, Prompt]] = []
    own: dict[int, BaseScorer | None] = {}
    for t in ranked:
        prompt = rebuild(t)
        own[t.number] = tuned_scorer(t) if tuned_scorer is not None else None
        value, accuracy = dev.full(prompt, scorer=own[t.number])
        rescored.append((value, accuracy, t, prompt))
        if progress is not None:
            progress.update(len(split.dev))
    rescored.sort(key=lambda r: (-r[0], r[2].number))
    top = rescored[:n_top]
    rows = []
    for rank, (_value, accuracy, t, prompt) in enumerate(top, start=1):
        result = (
            evaluate_prompt(
                own[t.number] or scorer,
                prompt,
                task,
                test,
                split="test",
                cache=cache,  # tuned scorers' model ids hash their weights: safe to share
                progress=progress.update if progress is not None else None,
            )
            if test
            else None
        )
        a = t.user_attrs
        rows.append(
            LeaderboardRow(
                rank=rank,
                prompt_id=a["prompt_id"],
                candidate_id=a["candidate_id"],
                instruction=a["instruction"],
                template=a["template"],
                verbalizer=str(prompt.verbalizer),
                n_demos=int(a.get("n_demos_used", 0)),
                demo_selection=str(a.get("selection", "none")),
                calibrate=prompt.calibrate,
                dev_score=accuracy,
                dev_n=len(split.dev),
                test_accuracy=result.accuracy if result else None,
                test_macro_f1=result.macro_f1 if result else None,
                test_ci_low=result.ci_low if result else None,
                test_ci_high=result.ci_high if result else None,
                test_n=result.n if result else 0,
                evaluations=cost.get(_entry_key(t), 0),
                trial=t.number,
                generation=int(a.get("generation", 0)),
                origin=str(a.get("origin", "seed")),
                parents=tuple(a.get("parents", ())),
                tuning=str(a.get("tuning_mode", "none")),
                prompt=prompt.to_dict(),
                labels=tuple(task.label_names),
                **(
                    _class_stats(result.labels, result.predictions, len(task.label_names), task.label_names)
                    if result
                    else {}
                ),
            )
        )
    all_trials = study.get_trials(deepcopy=False)
    board = Leaderboard(
        task=task.name,
        model=str(scorer.model.name),
        seed=split.seed,
        study_name=name,
        rows=tuple(rows),
        n_trials=sum(1 for t in all_trials if t.state.is_finished()),
        n_pruned=sum(
            1 for t in all_trials if t.state == optuna.trial.TrialState.PRUNED or "pruned_at" in t.user_attrs
        ),
        forward_passes=scorer.stats.instances,
        cache_hits=int(getattr(cache, "hits", 0)),
        seconds=time.perf_counter() - started,
        metadata={"k": split.k, "dev_n": len(split.dev), "test_n": len(test)},
    )
    return board, top[0][3]


def _entry_key(trial: optuna.trial.FrozenTrial) -> str:
    """Leaderboard identity: the prompt, and for a tuned trial also its own trained weights."""
    pid = str(trial.user_attrs["prompt_id"])
    mode = trial.user_attrs.get("tuning_mode", "none")
    return pid if mode == "none" else f"{pid}+{mode}#{trial.number}"


def _class_stats(y: Any, p: Any, n: int, names: Any) -> dict[str, Any]:
    """Confusion matrix (rows: true, columns: predicted) and per-class precision/recall/F1."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    cm = confusion_matrix(y, p, labels=list(range(n)))
    prec, rec, f1, support = precision_recall_fscore_support(y, p, labels=list(range(n)), zero_division=0)
    per_class = {
        str(names[i]): {
            "precision": float(prec[i]),
            "recall": float(rec[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i in range(n)
    }
    return {"confusion": tuple(tuple(int(v) for v in row) for row in cm), "per_class": per_class}

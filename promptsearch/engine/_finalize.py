"""After the trials: re-score the best prompts on the full dev set, then evaluate them on test."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from promptsearch.engine._workers import POLL_SECONDS, dead, worker_id
from promptsearch.evaluation import EvaluationResult, evaluate_prompt
from promptsearch.exceptions import PromptSearchError
from promptsearch.reports import Leaderboard, LeaderboardRow
from promptsearch.study import Attr, StudyAttr, TrialRecord, publish_once

if TYPE_CHECKING:
    import optuna

    from promptsearch.backends import LMBackend
    from promptsearch.engine._context import SearchContext
    from promptsearch.templates import Prompt

__all__ = ["finalize", "finalize_key", "finalize_once"]

_logger = logging.getLogger(__name__)

#: Dev examples shown with the winner's outputs in reports (generation tasks).
EXAMPLES_SHOWN = 8


def finalize_key(ctx: SearchContext) -> str:
    """The study's state a leaderboard is made from: finished trials and the final settings."""
    finished = sum(1 for t in ctx.study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED"))
    settings = json.dumps(ctx.space.final.to_dict(), sort_keys=True)
    return f"{finished}:{hashlib.sha256(settings.encode()).hexdigest()[:10]}"


def finalize_once(ctx: SearchContext, *, name: str, progress: Any = None) -> tuple[Leaderboard, Prompt]:
    """The leaderboard of the study's current state, made by one worker only.

    The first worker to claim this state (through the study) evaluates the best prompts and
    stores the leaderboard; the others, and later runs of a finished study, read it. A claim
    of a worker that died before storing is taken over.
    """
    from promptsearch.reports import store_leaderboard, stored_leaderboard

    key = finalize_key(ctx)
    attempt = 0
    while True:
        board = stored_leaderboard(ctx.study)
        if board is not None and board.metadata.get("finalize_key") == key and board.rows:
            return board, ctx.rebuild(
                ctx.study.trials[board.best.trial]
            ) if board.best.trial >= 0 else _prompt(board)
        me = worker_id()
        claim = f"{key}#{attempt}"
        owner = publish_once(ctx.study, StudyAttr.finalizer(claim), me)
        if owner == me:
            board, best = finalize(ctx, name=name, progress=progress)
            board = replace(board, metadata={**board.metadata, "finalize_key": key})
            store_leaderboard(ctx.study, board)
            return board, best
        if dead(str(owner)):
            attempt += 1  # its worker died before storing: claim again
            continue
        _logger.info("Worker %s makes the leaderboard; waiting for it.", owner)
        time.sleep(POLL_SECONDS)


def _prompt(board: Leaderboard) -> Prompt:
    from promptsearch.templates import Prompt

    return Prompt.from_dict(board.best.prompt)


def finalize(ctx: SearchContext, *, name: str, progress: Any = None) -> tuple[Leaderboard, Prompt]:
    """Rank distinct prompts on the full dev set (pruned ones are completed from the cache).

    The ``final.top`` best are evaluated on the test set; the leaderboard holds them.
    """
    import optuna

    study, space, split = ctx.study, ctx.space, ctx.split
    metric = ctx.objective.metric
    sign = 1.0 if metric.direction == "maximize" else -1.0
    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.value is not None and Attr.PROMPT_ID in t.user_attrs
    ]
    if not trials:
        raise PromptSearchError(
            f"Study {name!r} has no completed trial; check the log for failed trials and run again."
        )
    cost: dict[str, int] = {}
    best_trial: dict[str, optuna.trial.FrozenTrial] = {}
    for t in trials:
        key = TrialRecord.of(t).entry_key
        cost[key] = cost.get(key, 0) + TrialRecord.of(t).evaluations
        if key not in best_trial or sign * (t.value or 0.0) > sign * (best_trial[key].value or 0.0):
            best_trial[key] = t
    n_top = max(1, space.final.top)
    ranked = sorted(best_trial.values(), key=lambda t: -sign * (t.value or 0.0))[: n_top * 2]
    limit = space.final.test_limit
    test = list(split.test)[:limit] if limit else list(split.test)
    if progress is not None:
        progress.reset(total=len(ranked) * len(split.dev) + min(n_top, len(ranked)) * len(test))
    rescored: list[tuple[float, float, optuna.trial.FrozenTrial, Prompt]] = []
    own: dict[int, LMBackend | None] = {}
    for t in ranked:
        prompt = ctx.rebuild(t)
        own[t.number] = ctx.tuned_backend(t)
        value, score = ctx.objective.full(prompt, backend=own[t.number])
        rescored.append((value, score, t, prompt))
        if progress is not None:
            progress.update(len(split.dev))
    rescored.sort(key=lambda r: (-sign * r[0], r[2].number))
    top = rescored[:n_top]
    rows = []
    for rank, (_value, score, t, prompt) in enumerate(top, start=1):
        result = (
            evaluate_prompt(
                own[t.number] or ctx.backend,
                prompt,
                ctx.task,
                test,
                split="test",
                cache=ctx.cache,  # tuned backends' model ids hash their weights: safe to share
                progress=progress.update if progress is not None else None,
                metric=metric.name,
                generation=ctx.objective.generation,
            )
            if test
            else None
        )
        rows.append(_row(ctx, rank, t, prompt, score, result, cost.get(TrialRecord.of(t).entry_key, 0)))
    all_trials = study.get_trials(deepcopy=False)
    board = Leaderboard(
        task=ctx.task.name,
        model=str(ctx.backend.name),
        seed=split.seed,
        study_name=name,
        rows=tuple(rows),
        metric=metric.name,
        direction=metric.direction,
        n_trials=sum(1 for t in all_trials if t.state.is_finished() and not t.user_attrs.get(Attr.SURPLUS)),
        n_pruned=sum(
            1
            for t in all_trials
            if t.state == optuna.trial.TrialState.PRUNED or Attr.PRUNED_AT in t.user_attrs
        ),
        forward_passes=ctx.backend.stats.instances,
        cache_hits=int(getattr(ctx.cache, "hits", 0)),
        seconds=time.perf_counter() - ctx.started,
        metadata={
            "k": split.k,
            "dev_n": len(split.dev),
            "test_n": len(test),
            "task_type": ctx.task.task_type,
        },
    )
    return board, top[0][3]


def _row(
    ctx: SearchContext,
    rank: int,
    trial: optuna.trial.FrozenTrial,
    prompt: Prompt,
    dev_score: float,
    result: EvaluationResult | None,
    evaluations: int,
) -> LeaderboardRow:
    record = TrialRecord.of(trial)
    a = record.attrs
    task = ctx.task
    extra: dict[str, Any] = {}
    if result is not None and task.kind.output == "label":
        extra = _class_stats(result.labels, result.predictions, len(task.label_names), task.label_names)
    if rank == 1 and task.kind.output == "text":
        extra["examples"] = _examples(ctx, prompt)
    return LeaderboardRow(
        rank=rank,
        prompt_id=str(record.prompt_id),
        candidate_id=str(a[Attr.CANDIDATE_ID]),
        instruction=str(a[Attr.INSTRUCTION]),
        template=str(a[Attr.TEMPLATE]),
        verbalizer=str(prompt.verbalizer) if prompt.verbalizer is not None else "",
        n_demos=int(a.get(Attr.N_DEMOS_USED, 0)),
        demo_selection=str(a.get(Attr.SELECTION, "none")),
        calibrate=prompt.calibrate,
        dev_score=dev_score,
        dev_n=len(ctx.split.dev),
        metric=ctx.objective.metric.name,
        test_metrics=dict(result.metrics) if result else {},
        test_ci_low=result.ci_low if result else None,
        test_ci_high=result.ci_high if result else None,
        test_n=result.n if result else 0,
        evaluations=evaluations,
        trial=trial.number,
        generation=record.generation,
        origin=str(a.get(Attr.ORIGIN, "seed")),
        parents=tuple(a.get(Attr.PARENTS, ())),
        tuning=record.tuning_mode,
        prompt=prompt.to_dict(),
        labels=tuple(task.label_names),
        **extra,
    )


def _examples(ctx: SearchContext, prompt: Prompt) -> tuple[dict[str, Any], ...]:
    """The winner's outputs on the first dev examples (already cached: no generation)."""
    shown = ctx.split.dev[:EXAMPLES_SHOWN]
    preds = ctx.objective.predictions(prompt, shown)
    return tuple(
        {"input": dict(ex.inputs), "output": str(out), "references": list(ex.references)}
        for ex, out in zip(shown, preds.predicted)
    )


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

"""After the trials: re-score the best prompts, choose the winner against the baseline, evaluate on test."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from promptsearch.engine._balance import balance_metadata
from promptsearch.engine._confirm import confirm_winner
from promptsearch.engine._winner import (
    BASELINE,
    Contender,
    baseline_prompt,
    choose_winner,
    ensemble_of,
    score_contender,
    with_gain,
)
from promptsearch.engine._workers import POLL_SECONDS, dead, worker_id
from promptsearch.evaluation import EvaluationResult, evaluate_prompt
from promptsearch.exceptions import PromptSearchError
from promptsearch.reports import Leaderboard, LeaderboardRow
from promptsearch.study import Attr, StudyAttr, TrialRecord, is_pruned, is_scored, publish_once

if TYPE_CHECKING:
    import optuna

    from promptsearch.engine._context import SearchContext
    from promptsearch.templates import Prompt

__all__ = ["RULES_REVISION", "finalize", "finalize_key", "finalize_once"]

_logger = logging.getLogger(__name__)

#: Dev examples shown with the winner's outputs in reports (generation tasks).
EXAMPLES_SHOWN = 8


#: Revision of the rules a leaderboard is made by (final evaluation, winner rule, confirmation).
#: Part of :func:`finalize_key`: a leaderboard stored under another revision is made again when
#: its study runs again (from cached scores), so a finished search is decided by the rules of the
#: code that runs it. Raise it whenever those rules change. 2: the confirmation refuses a winner
#: only when it is worse beyond noise.
RULES_REVISION = 2


def finalize_key(ctx: SearchContext) -> str:
    """The study's state a leaderboard is made from: finished trials, the final settings and the
    revision of the rules (:data:`RULES_REVISION`)."""
    finished = sum(1 for t in ctx.study.get_trials(deepcopy=False) if is_scored(t))
    settings = json.dumps(ctx.space.final.to_dict(), sort_keys=True)
    return f"{finished}:{hashlib.sha256(settings.encode()).hexdigest()[:10]}:r{RULES_REVISION}"


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
    """Re-score the best distinct prompts on every selection example (pruned ones are completed
    from the cache), add the baseline and an ensemble of the best, choose the winner (see
    :mod:`promptsearch.engine._winner`) and evaluate the leaderboard's prompts on test.
    """
    import optuna

    final_started = time.perf_counter()
    study, space, split = ctx.study, ctx.space, ctx.split
    metric = ctx.objective.metric
    sign = metric.sign
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
    n_sel = len(ctx.objective.dev)
    if progress is not None:
        progress.reset(total=(len(ranked) + 2) * n_sel + 2 * len(split.confirm) + (n_top + 2) * len(test))
    rescored = []
    for t in ranked:
        tuned = ctx.tuned_backend(t)
        prompt = ctx.rebuild(t)
        only = ctx.judged_on(prompt, tuned=tuned is not None)
        rescored.append(score_contender(ctx, prompt, trial=t, backend=tuned, only=only))
        if progress is not None:
            progress.update(n_sel)
    rescored.sort(key=lambda c: (-sign * c.value, c.trial.number if c.trial else -1))
    base_prompt = baseline_prompt(ctx)
    same = [c.trial for c in rescored if c.prompt.id == base_prompt.id and c.backend is None]
    base_trial = same[0] if same else None
    base = score_contender(ctx, base_prompt, trial=base_trial, origin=BASELINE)
    ensemble = ensemble_of(ctx, rescored, space.selection.ensemble)
    if progress is not None:
        progress.update(2 * n_sel)
    contenders = [c for c in rescored[:n_top] if not (c.prompt.id == base.prompt.id and c.backend is None)]
    contenders += [ensemble] if ensemble is not None else []
    contenders = [with_gain(ctx, c, base) for c in contenders]
    winner, reason = choose_winner(ctx, contenders, base)
    confirmation = confirm_winner(ctx, winner, base)
    if progress is not None and confirmation is not None:
        progress.update(2 * confirmation.n)
    if confirmation is not None and not confirmation.passed:
        worse = ", ".join(f"{m} {confirmation.gains[m][0]:+.3f}" for m in confirmation.failed_on)
        reason = (
            f"the best searched prompt ({reason}) was worse than your template beyond noise on the "
            f"{confirmation.n} confirmation examples ({worse}): your template is kept"
        )
        _logger.info("The winner failed its confirmation (%s); your template is kept.", worse)
        winner = base
    elif confirmation is not None:
        reason += f"; not worse than your template beyond noise on the {confirmation.n} confirmation examples"
    shown = [winner, *sorted((c for c in contenders if c is not winner), key=lambda c: -sign * c.value)]
    shown += [base] if winner is not base else []
    rows = []
    for rank, c in enumerate(shown, start=1):
        result = (
            evaluate_prompt(
                c.backend or ctx.backend,
                c.prompt,
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
        spent = cost.get(TrialRecord.of(c.trial).entry_key, 0) if c.trial is not None else 0
        rows.append(_row(ctx, rank, c, result, spent, ranks={x.prompt.id: i for i, x in enumerate(shown, 1)}))
    if progress is not None:  # cached scores and rows not shown advance nothing: end the bar full
        left = int(getattr(progress, "total", 0) or 0) - int(getattr(progress, "n", 0) or 0)
        if left > 0:
            progress.update(left)
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
        n_pruned=sum(1 for t in all_trials if is_pruned(t)),
        forward_passes=ctx.backend.stats.instances
        + ctx.tuned_forward_passes[0]
        + sum(b.stats.instances for b in {id(c.backend): c.backend for c in rescored if c.backend}.values()),
        cache_hits=int(getattr(ctx.cache, "hits", 0)),
        seconds=time.perf_counter() - ctx.started,
        metadata={
            "k": split.k,
            "dev_n": len(split.dev),
            "test_n": len(test),
            "task_type": ctx.task.task_type,
            "selection": {
                "examples": "all" if ctx.pool is not None else "dev",
                "n": n_sel,
                "rule": space.selection.rule,
                "level": space.selection.level,
                "ensemble": space.selection.ensemble,
                "winner": reason,
                **balance_metadata(ctx),
                "confirmation": confirmation.to_dict() if confirmation is not None else None,
            },
            "phases": {**ctx.phases, "final": time.perf_counter() - final_started},
        },
    )
    return board, winner.prompt


def _row(
    ctx: SearchContext,
    rank: int,
    c: Contender,
    result: EvaluationResult | None,
    evaluations: int,
    *,
    ranks: dict[str, int],
) -> LeaderboardRow:
    """The leaderboard row of ``c``; ``ranks``: prompt id -> rank of the rows shown (an
    ensemble's row names its members by rank)."""
    task, prompt = ctx.task, c.prompt
    members: tuple[Prompt, ...] = getattr(prompt, "members", ())
    extra: dict[str, Any] = {}
    if result is not None and task.kind.output == "label":
        extra = _class_stats(result.labels, result.predictions, len(task.label_names), task.label_names)
    if rank == 1 and task.kind.output == "text":
        extra["examples"] = _examples(ctx, prompt)
    if c.gain is not None:
        extra.update(gain=c.gain.gain, gain_low=c.gain.low, gain_high=c.gain.high, gain_p=c.gain.p_value)
    if c.trial is not None and c.origin != BASELINE:
        record = TrialRecord.of(c.trial)
        a = record.attrs
        described: dict[str, Any] = dict(
            candidate_id=str(a[Attr.CANDIDATE_ID]),
            instruction=str(a[Attr.INSTRUCTION]),
            template=str(a[Attr.TEMPLATE]),
            n_demos=int(a.get(Attr.N_DEMOS_USED, 0)),
            demo_selection=str(a.get(Attr.SELECTION, "none")),
            trial=c.trial.number,
            generation=record.generation,
            origin=str(a.get(Attr.ORIGIN, "seed")),
            parents=tuple(a.get(Attr.PARENTS, ())),
            tuning=record.tuning_mode,
        )
    else:
        described = dict(
            candidate_id=prompt.id,
            instruction=prompt.instruction if not members else "",
            template=prompt.template.source if not members else _ensemble_label(members, ranks),
            n_demos=len(prompt.demonstrations) if not members else 0,
            demo_selection="none",
            trial=c.trial.number if c.trial is not None else -1,
            origin=c.origin,
        )
    return LeaderboardRow(
        rank=rank,
        prompt_id=prompt.id,
        verbalizer=str(prompt.verbalizer) if prompt.verbalizer is not None and not members else "",
        calibrate=prompt.calibrate,
        dev_score=c.score,
        dev_n=len(c.example_ids),
        metric=ctx.objective.metric.name,
        test_metrics=dict(result.metrics) if result else {},
        test_ci_low=result.ci_low if result else None,
        test_ci_high=result.ci_high if result else None,
        test_intervals=dict(result.intervals) if result else {},
        test_n=result.n if result else 0,
        evaluations=evaluations,
        prompt=prompt.to_dict(),
        labels=tuple(task.label_names),
        **described,
        **extra,
    )


def _ensemble_label(members: tuple[Prompt, ...], ranks: dict[str, int]) -> str:
    """``ensemble of ranks 2, 3, 4`` (members not shown are named by their prompt id)."""
    names = [f"{ranks[m.id]}" if m.id in ranks else m.id for m in members]
    return f"ensemble of ranks {', '.join(names)}"


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

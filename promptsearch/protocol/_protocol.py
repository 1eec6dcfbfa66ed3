"""The few-shot protocol (LM-BFF): one search per seed split, with baselines on the same splits."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import DataError, PromptSearchError
from promptsearch.protocol._result import (
    BEST_MANUAL,
    DEFAULT_TEMPLATE,
    IN_CONTEXT,
    PROMPTSEARCH,
    MethodResult,
    ProtocolResult,
)
from promptsearch.templates import Prompt, Verbalizer

if TYPE_CHECKING:
    from promptsearch.backends import GenerationSettings, LMBackend
    from promptsearch.engine import PromptSearch
    from promptsearch.metrics import BaseMetric, PairedGain, Predictions
    from promptsearch.scoring import ScoreCache
    from promptsearch.space import SearchSpace
    from promptsearch.tasks import Example, Task

__all__ = ["run_protocol"]

_logger = logging.getLogger(__name__)


def _manual_prompts(space: SearchSpace, task: Task) -> list[Prompt]:
    """Every seed template with every given verbalizer (none for tasks without label words)."""
    labels = task.label_names
    verbs: list[Verbalizer | None] = [None]
    if task.kind.label_words:
        verbs = [Verbalizer.parse(v, labels) for v in space.verbalizers.candidates] or [
            Verbalizer.from_mapping(task.verbalizer_or_default(), labels)
        ]
    return [s.prompt(v, generation=not task.kind.answer_slot) for s in space.templates.seeds for v in verbs]


def run_protocol(
    space: SearchSpace,
    *,
    seeds: Sequence[int],
    out_dir: str | Path,
    task: Any = None,
    model: Any = None,
    n_trials: int | None = None,
    storage: str | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    dtype: str | None = None,
    progress: bool = False,
    n_demos_icl: int = 4,
) -> ProtocolResult:
    """Run baselines and one search per seed; the same model, splits and test examples for all.

    Methods (test value of the metric, per seed; prompts chosen on dev only):
      * ``default template (zero-shot)``: the space's first seed template with its first
        verbalizer candidate;
      * ``best manual``: the best on dev of every seed template x verbalizer candidate (seed
        templates only for tasks without label words);
      * ``in-context (default template + demos)``: the default template with ``n_demos_icl``
        random training demonstrations;
      * ``promptsearch``: the search's winner (with its tuned weights when it was tuned).

    Every method's prompt is run on the same test examples, so promptsearch's gain over each
    baseline comes with a paired bootstrap interval (:attr:`ProtocolResult.gains`); the table
    shows the gain over the strongest baseline (best mean over seeds) and over the default
    template. ``task`` may be a catalog name, a file or a :class:`~promptsearch.tasks.Task`.

    Writes ``protocol.md`` and ``protocol.json`` in ``out_dir`` and each seed's search in
    ``out_dir/seed<N>``.
    """
    from promptsearch.demonstrations import DEFAULT_ORDER, order_demonstrations, select_random
    from promptsearch.engine import DevObjective, PromptSearch, setup_run
    from promptsearch.metrics import paired_bootstrap

    out = Path(out_dir)
    # LM-BFF's protocol exactly: k per class for train and for dev, nothing else labelled.
    space = replace(space, split=replace(space.split, strategy="k_shot", confirm=0))
    run = setup_run(
        space,
        task=task,
        model=model,
        seed=seeds[0] if seeds else None,
        cache=out / "scores.sqlite",
        dtype=dtype,
        device=device,
        batch_size=batch_size,
    )
    space, task_obj, metric, scorer, cache = run.space, run.task, run.metric, run.backend, run.cache
    generation = run.generation
    manual = _manual_prompts(space, task_obj)
    for prompt in manual:
        prompt.check(task_obj)
    sign = metric.sign
    methods = (DEFAULT_TEMPLATE, BEST_MANUAL, IN_CONTEXT, PROMPTSEARCH)
    results: dict[str, dict[int, float]] = {m: {} for m in methods}
    prompts: dict[str, dict[int, dict[str, Any]]] = {m: {} for m in methods}
    gains: dict[str, dict[int, PairedGain]] = {m: {} for m in methods if m != PROMPTSEARCH}
    test_n = 0
    for seed in seeds:
        split = run.split_for(seed)
        limit = space.final.test_limit
        test = list(split.test)[:limit] if limit else list(split.test)
        if not test:
            raise DataError(
                f"Task {task_obj.name!r} has no test examples for seed {seed}; the protocol compares "
                "methods on test: give the task a test split (or a larger final.test_limit)."
            )
        test_n = len(test)
        dev = DevObjective(scorer, task_obj, split.dev, metric, cache=cache, seed=seed, generation=generation)
        dev_scores = [dev.full(p)[0] for p in manual]
        best = manual[max(range(len(manual)), key=lambda i: (sign * dev_scores[i], -i))]
        default = manual[0]
        demos = order_demonstrations(select_random(split.train, n_demos_icl, seed=seed), DEFAULT_ORDER, seed)
        icl = Prompt(
            default.template, default.verbalizer, instruction=default.instruction, demonstrations=demos
        )
        search = PromptSearch(
            space,
            task=task_obj,
            model=scorer,
            seed=seed,
            n_trials=n_trials,
            storage=storage,
            out_dir=out / f"seed{seed}",
            cache=cache,
            callbacks=_progress_callbacks(progress, seed, space.total_trials(n_trials)),
        )
        search.fit()
        runs: list[tuple[str, Prompt, LMBackend]] = [
            (DEFAULT_TEMPLATE, default, scorer),
            (BEST_MANUAL, best, scorer),
            (IN_CONTEXT, icl, scorer),
            (
                PROMPTSEARCH,
                search.best_prompt_,
                _winner_backend(search, scorer, batch_size or space.batch_size),
            ),
        ]
        predictions: dict[str, Predictions] = {}
        for method, prompt, backend in runs:
            predictions[method] = _test_predictions(backend, prompt, task_obj, test, cache, generation)
            results[method][seed] = metric.aggregate(predictions[method])
            prompts[method][seed] = prompt.to_dict()
            _logger.info("seed %d %s: test %s %.3f", seed, method, metric.name, results[method][seed])
        _check_winner(search, results[PROMPTSEARCH][seed], metric, seed)
        prompts[PROMPTSEARCH][seed] = search.leaderboard_.best.prompt
        for baseline in gains:
            gains[baseline][seed] = paired_bootstrap(metric, predictions[PROMPTSEARCH], predictions[baseline])
    protocol = ProtocolResult(
        task=task_obj.name,
        model=scorer.name,
        k=space.split.k,
        seeds=tuple(seeds),
        test_n=test_n,
        methods=tuple(MethodResult(m, results[m], prompts[m]) for m in methods),
        metric=metric.name,
        gains=gains,
        direction=metric.direction,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "protocol.md").write_text(protocol.markdown() + "\n", encoding="utf-8")
    (out / "protocol.json").write_text(
        json.dumps(protocol.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return protocol


def _test_predictions(
    backend: LMBackend,
    prompt: Prompt,
    task: Task,
    test: Sequence[Example],
    cache: ScoreCache,
    generation: GenerationSettings,
) -> Predictions:
    """``prompt``'s predictions on the test examples (the shared cache makes repeats free)."""
    from promptsearch.scoring import predict

    return predict(backend, prompt, task, test, cache=cache, generation=generation).predictions


def _winner_backend(search: PromptSearch, scorer: LMBackend, batch_size: int | None) -> LMBackend:
    """The backend the search's winner runs on: its tuned weights when it was tuned."""
    tuning = search.best_tuning_
    if tuning is None:
        return scorer
    from promptsearch.tuning import load_tuned_scorer

    loaded = getattr(scorer, "loaded", None)
    if loaded is None:
        raise PromptSearchError(
            f"The winner of seed {search.split_.seed} was tuned ({tuning.mode}); its weights load only on a "
            f"trainable backend, and {scorer.name!r} is not one: use backend hf or leave tuning out."
        )
    return load_tuned_scorer(loaded, tuning.mode, tuning.path, batch_size=batch_size)


def _check_winner(search: PromptSearch, value: float, metric: BaseMetric, seed: int) -> None:
    """Warn when the winner's test value differs from the one its leaderboard reports."""
    reported = search.leaderboard_.best.test_score
    if reported is not None and abs(reported - value) > 1e-9:
        _logger.warning(
            "seed %d: the winner scores %s %.4f on test here but %.4f in its leaderboard; the table "
            "uses %.4f (same prompt, model and examples: check the cache and the tuned weights).",
            seed,
            metric.name,
            value,
            reported,
            value,
        )


def _progress_callbacks(enabled: bool, seed: int, total: int) -> list[Any]:
    if not enabled:
        return []
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"seed {seed}", unit="trial")

    def callback(study: Any, trial: Any) -> None:
        bar.update(1)
        if bar.n >= total:
            bar.close()

    return [callback]

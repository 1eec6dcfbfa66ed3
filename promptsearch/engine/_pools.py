"""Candidate pools per generation and the verbalizer pool, persisted in the study.

Optuna needs a categorical parameter's choices to stay fixed, so each generation's pool is
decided once, stored as a study user attribute, and read back by resumed runs and by other
workers; the next generation gets a new parameter name.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import PromptSearchError
from promptsearch.generators import Candidate
from promptsearch.study import StudyAttr, TrialRecord, best_distinct_trials, publish_once
from promptsearch.templates import Verbalizer, parse_template
from promptsearch.templates._template import FieldPart

if TYPE_CHECKING:
    import optuna

    from promptsearch.backends import LMBackend
    from promptsearch.space import SearchSpace
    from promptsearch.tasks import FewShotSplit, Task

__all__ = ["fitted_verbalizers", "initial_pool", "load_pool", "next_pool", "verbalizer_pool"]

_logger = logging.getLogger(__name__)


def _store(study: optuna.Study, key: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store ``items`` unless another worker already did (first writer wins); return what the
    study holds."""
    existing = study.user_attrs.get(key)
    if existing is not None:
        return list(json.loads(existing))
    return list(json.loads(publish_once(study, key, json.dumps(items))))


def load_pool(study: optuna.Study, generation: int) -> list[Candidate] | None:
    """The stored pool of a generation, or ``None``."""
    raw = study.user_attrs.get(StudyAttr.pool(generation))
    return None if raw is None else [Candidate.from_dict(d) for d in json.loads(raw)]


def _fits(candidate: Candidate, task: Task) -> bool:
    fields = [p.name for p in parse_template(candidate.template) if isinstance(p, FieldPart)]
    return all(f in task.input_fields for f in fields)


def initial_pool(study: optuna.Study, space: SearchSpace, task: Task) -> list[Candidate]:
    """Generation 0: seed templates, then grammar samples up to ``templates.n_initial``."""
    stored = load_pool(study, 0)
    if stored is not None:
        return stored
    pool: dict[str, Candidate] = {}
    for seed in space.templates.seeds:
        cand = Candidate(instruction=seed.instruction, template=seed.template, origin="seed")
        pool.setdefault(cand.id, cand)
    grammar = space.templates.grammar
    if grammar is not None:
        gram = grammar.grammar(task.kind.answer_slot)
        want = max(0, space.templates.n_initial - len(pool))
        for cand in gram.sample(min(want + len(pool), gram.size()), seed=space.split.seed):
            if len(pool) >= space.templates.n_initial:
                break
            pool.setdefault(cand.id, cand)
    usable = [c for c in pool.values() if _fits(c, task)]
    if not usable:
        raise PromptSearchError(
            f"No template of the search space fits task {task.name!r} (fields {list(task.input_fields)}); "
            "use the task's field names in the templates and grammar."
        )
    dropped = len(pool) - len(usable)
    if dropped:
        _logger.warning(
            "%d candidate templates use fields task %r lacks; they were dropped.", dropped, task.name
        )
    stored_items = _store(study, StudyAttr.pool(0), [c.to_dict() for c in usable])
    return [Candidate.from_dict(d) for d in stored_items]


def _parents(study: optuna.Study, k: int) -> list[Candidate]:
    """The best ``k`` distinct candidates so far (fully evaluated trials first)."""
    best = best_distinct_trials(
        study,
        key=lambda t: TrialRecord.of(t).candidate.id,
        where=lambda t: TrialRecord.of(t).prompt_id is not None,
    )
    return [TrialRecord.of(t).candidate for t in best[:k]]


def next_pool(
    study: optuna.Study,
    space: SearchSpace,
    generation: int,
    *,
    backend: LMBackend,
    seed: int,
) -> list[Candidate]:
    """Generation N: mutations and crossovers of the best candidates so far, plus the parents."""
    stored = load_pool(study, generation)
    if stored is not None:
        return stored
    from promptsearch.generators import evolve, operators

    ops = [
        operators.get(name).from_settings(
            {k: v for k, v in settings.items() if k != "enabled"}, backend=backend
        )
        for name, settings in space.operators.items()
        if settings.get("enabled", True)
    ]
    parents = _parents(study, space.evolution.parents)
    seen = {c.id for g in range(generation) for c in (load_pool(study, g) or [])}
    children = (
        evolve(
            parents,
            ops,
            n=space.evolution.population,
            seed=seed * 100 + generation,
            generation=generation,
            exclude=seen,
        )
        if parents and ops
        else []
    )
    # Parents stay selectable so the sampler can keep exploiting them in the new parameter.
    pool = {c.id: c for c in [*parents, *children]}
    _logger.info("generation %d: %d parents, %d new candidates", generation, len(parents), len(children))
    stored_items = _store(study, StudyAttr.pool(generation), [c.to_dict() for c in pool.values()])
    return [Candidate.from_dict(d) for d in stored_items]


def verbalizer_pool(
    study: optuna.Study, space: SearchSpace, task: Task, split: FewShotSplit, backend: LMBackend
) -> list[Verbalizer]:
    """User candidates (or the task default) plus automatic label words, fixed for the study.

    Empty for task types without label words.
    """
    if not task.kind.label_words:
        return []
    raw = study.user_attrs.get(StudyAttr.VERBALIZERS)
    if raw is not None:
        return [Verbalizer.from_mapping(d, task.label_names) for d in json.loads(raw)]
    pool: dict[str, Verbalizer] = {}
    for spec in space.verbalizers.candidates:
        v = Verbalizer.parse(spec, task.label_names)
        pool.setdefault(str(v), v)
    if not pool:
        v = Verbalizer.from_mapping(task.verbalizer_or_default(), task.label_names)
        pool[str(v)] = v
    auto = space.verbalizers.auto
    fitted: list[str] = []
    if auto.enabled and space.templates.seeds:
        found = _automatic_label_words(space, task, split, backend, next(iter(pool.values())))
        for v in found:
            if str(v) not in pool:
                pool[str(v)] = v
                fitted.append(str(v))
        _logger.info("automatic label words: %s", ", ".join(str(v) for v in found) or "none")
    # Which words were fitted to the training examples is stored first: a worker that reads
    # the pool then always finds it.
    publish_once(study, StudyAttr.FITTED_VERBALIZERS, json.dumps(fitted))
    items = _store(study, StudyAttr.VERBALIZERS, [v.to_dict() for v in pool.values()])
    return [Verbalizer.from_mapping(d, task.label_names) for d in items]


def fitted_verbalizers(study: optuna.Study) -> frozenset[str]:
    """The label words of the study's pool that were fitted to the training examples (automatic
    label words), as ``str(verbalizer)``: they are judged only on examples they were not fitted to."""
    raw = study.user_attrs.get(StudyAttr.FITTED_VERBALIZERS)
    return frozenset(json.loads(raw)) if raw is not None else frozenset()


def _automatic_label_words(
    space: SearchSpace, task: Task, split: FewShotSplit, backend: LMBackend, first: Verbalizer
) -> list[Verbalizer]:
    from promptsearch.generators import search_label_words

    if not backend.capabilities.next_token_logprobs:
        _logger.warning(
            "Automatic label words need next-token distributions, which the %r backend does not give; "
            "only the given label words are searched.",
            backend.name,
        )
        return []
    prompt = space.baseline_prompt(task.kind.answer_slot, first)
    auto = space.verbalizers.auto
    return search_label_words(
        backend,
        prompt,
        split.train,
        task.label_names,
        words_per_label=auto.words_per_label,
        n_candidates=auto.candidates,
        seed=split.seed,
    )

"""From a trial's choices to a prompt, and back: what a trial samples and what it records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptsearch.demonstrations import (
    DEFAULT_ORDER,
    DEFAULT_SELECTION,
    DemoSelector,
    LeaveOneOutSelector,
    selections,
)
from promptsearch.generators import Candidate
from promptsearch.study import Attr, Param, TrialRecord, candidate_attrs
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt, Template, Verbalizer

if TYPE_CHECKING:
    import optuna

    from promptsearch.space import DemoSpace

__all__ = ["PromptChoices", "build_prompt", "choices_attrs", "choices_of", "suggest_prompt"]


@dataclass(frozen=True)
class PromptChoices:
    """What a trial chose (all of it stored as trial parameters or user attributes).

    ``verbalizer`` is ``None`` for task types without label words.
    """

    candidate: Candidate
    verbalizer: Verbalizer | None
    n_demos: int = 0
    selection: str = DEFAULT_SELECTION
    order: str = DEFAULT_ORDER
    demo_seed: int = 0
    calibrate: bool = False


def suggest_prompt(
    trial: optuna.Trial,
    *,
    generation: int,
    pool: Sequence[Candidate],
    verbalizers: Sequence[Verbalizer],
    demos: DemoSpace,
    calibration: Sequence[bool],
) -> PromptChoices:
    """Sample every discrete choice of a prompt from ``trial``.

    Categorical choices are fixed for the whole study (Optuna requires it): each generation
    has its own template parameter (``template_g{N}``) over that generation's pool. Task
    types without label words sample no verbalizer and no calibration.
    """
    by_id = {c.id: c for c in pool}
    cid = trial.suggest_categorical(Param.template(generation), [c.id for c in pool])
    verbalizer = None
    if verbalizers:
        verb_ids = [str(v) for v in verbalizers]
        verbalizer = verbalizers[verb_ids.index(trial.suggest_categorical(Param.VERBALIZER, verb_ids))]
    n_demos = int(trial.suggest_categorical(Param.N_DEMOS, list(demos.counts)))
    selection, order, demo_seed = DEFAULT_SELECTION, DEFAULT_ORDER, 0
    if n_demos > 0:
        selection = str(trial.suggest_categorical(Param.DEMO_SELECTION, list(demos.selection)))
        if n_demos > 1:  # one demonstration has no order
            order = str(trial.suggest_categorical(Param.DEMO_ORDER, list(demos.order)))
        if selections.get(selection).seeded and demos.seeds > 1:
            demo_seed = trial.suggest_int(Param.DEMO_SEED, 0, demos.seeds - 1)
    calibrate = False
    if verbalizers:
        calibrate = bool(trial.suggest_categorical(Param.CALIBRATE, list(calibration)))
    return PromptChoices(by_id[cid], verbalizer, n_demos, selection, order, demo_seed, calibrate)


def build_prompt(
    choices: PromptChoices,
    task: Task,
    train: Sequence[Example],
    *,
    split_seed: int,
    embedder: str = "tfidf",
    pool: Sequence[Example] | None = None,
    prior: Sequence[float] = (),
) -> Prompt:
    """Turn choices into a :class:`Prompt`; demonstrations come from ``train``.

    With ``pool`` (every labelled example, train and dev, when prompts are compared on all of
    them) demonstrations come from the pool instead, leave-one-out: no query is ever shown
    with its own answer (random demonstrations get a
    :class:`~promptsearch.demonstrations.LeaveOneOutSelector`; similar ones never pick the
    query itself). ``embedder`` is how similar demonstrations are found (see
    :func:`promptsearch.demonstrations.load_embedder`). ``prior``: the data's class shares,
    which a calibrated prompt aims at.
    """
    template = Template(choices.candidate.template, generation=not task.kind.answer_slot)
    demos: tuple[Example, ...] = ()
    selector: DemoSelector | None = None
    if choices.n_demos > 0:
        seed = split_seed * 1000 + choices.demo_seed
        demos, selector = selections.get(choices.selection).build(
            pool if pool is not None else train,
            choices.n_demos,
            order=choices.order,
            seed=seed,
            fields=template.fields or task.input_fields,
            embedder=embedder,
        )
        if pool is not None and selector is None:
            selector = LeaveOneOutSelector(demos, pool, seed=seed)
    return Prompt(
        template=template,
        verbalizer=choices.verbalizer,
        instruction=choices.candidate.instruction,
        demonstrations=demos,
        calibrate=choices.calibrate,
        selector=selector,
        prior=tuple(prior) if choices.calibrate else (),
    )


def choices_attrs(choices: PromptChoices, prompt: Prompt, generation: int) -> dict[str, Any]:
    """User attributes that describe a trial's prompt for reports and resumption."""
    verb = choices.verbalizer
    return {
        Attr.GENERATION: generation,
        **candidate_attrs(choices.candidate),
        Attr.PROMPT_ID: prompt.id,
        Attr.REQUESTS_ID: prompt.requests_id,
        Attr.VERBALIZER_WORDS: json.dumps(verb.to_dict() if verb is not None else None),
        Attr.N_DEMOS_USED: choices.n_demos,
        Attr.SELECTION: choices.selection if choices.n_demos else "none",
    }


def choices_of(record: TrialRecord, verbalizers: Sequence[Verbalizer]) -> PromptChoices:
    """The choices a finished trial made, from its parameters and attributes."""
    params = record.params
    verb = {str(v): v for v in verbalizers}.get(str(params.get(Param.VERBALIZER))) if verbalizers else None
    return PromptChoices(
        record.candidate,
        verb,
        int(params.get(Param.N_DEMOS, 0)),
        str(params.get(Param.DEMO_SELECTION, DEFAULT_SELECTION)),
        str(params.get(Param.DEMO_ORDER, DEFAULT_ORDER)),
        int(params.get(Param.DEMO_SEED, 0)),
        bool(params.get(Param.CALIBRATE, False)),
    )

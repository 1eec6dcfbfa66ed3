"""The Optuna objective: build a prompt from a trial's parameters and score it on dev."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from promptsearch.demonstrations import SimilarSelector, load_embedder, order_demonstrations, select_random
from promptsearch.exceptions import ConfigError, PromptSearchError
from promptsearch.generators._candidate import Candidate
from promptsearch.scoring import BaseScorer, ScoreCache, score_prompt
from promptsearch.tasks._records import Example, Task
from promptsearch.templates import Prompt, Template, Verbalizer

if TYPE_CHECKING:
    import optuna

    from promptsearch.search._space import SearchSpace

__all__ = ["DevScorer", "PromptChoices", "TieBreak", "build_prompt", "check_embedder", "suggest_prompt"]

_logger = logging.getLogger(__name__)

#: Weight of the probability of the true label in each example's value: it breaks ties
#: between prompts of equal accuracy without ever outweighing one more correct example.
TieBreak = 0.01


@dataclass(frozen=True)
class PromptChoices:
    """What a trial chose (all of it stored as trial parameters or user attributes)."""

    candidate: Candidate
    verbalizer: Verbalizer
    n_demos: int = 0
    selection: str = "random"
    order: str = "random"
    demo_seed: int = 0
    calibrate: bool = False


def suggest_prompt(
    trial: optuna.Trial,
    *,
    generation: int,
    pool: Sequence[Candidate],
    verbalizers: Sequence[Verbalizer],
    demo_counts: Sequence[int],
    demo_selection: Sequence[str],
    demo_orders: Sequence[str],
    demo_seeds: int,
    calibration: Sequence[bool],
) -> PromptChoices:
    """Sample every discrete choice of a prompt from ``trial``.

    Categorical choices are fixed for the whole study (Optuna requires it): each generation
    has its own template parameter (``template_g{N}``) over that generation's pool.
    """
    by_id = {c.id: c for c in pool}
    cid = trial.suggest_categorical(f"template_g{generation}", [c.id for c in pool])
    verb_ids = [str(v) for v in verbalizers]
    vid = trial.suggest_categorical("verbalizer", verb_ids)
    n_demos = int(trial.suggest_categorical("n_demos", list(demo_counts)))
    selection, order, demo_seed = "random", "random", 0
    if n_demos > 0:
        selection = str(trial.suggest_categorical("demo_selection", list(demo_selection)))
        order = str(trial.suggest_categorical("demo_order", list(demo_orders)))
        if selection == "random" and demo_seeds > 1:
            demo_seed = trial.suggest_int("demo_seed", 0, demo_seeds - 1)
    calibrate = bool(trial.suggest_categorical("calibrate", list(calibration)))
    return PromptChoices(
        by_id[cid], verbalizers[verb_ids.index(vid)], n_demos, selection, order, demo_seed, calibrate
    )


def build_prompt(
    choices: PromptChoices, task: Task, train: Sequence[Example], *, split_seed: int, embedder: str = "tfidf"
) -> Prompt:
    """Turn choices into a :class:`Prompt`; demonstrations come from ``train`` only.

    ``embedder`` is how similar demonstrations are found (see
    :func:`promptsearch.demonstrations.load_embedder`).
    """
    selector = None
    demos: tuple[Example, ...] = ()
    if choices.n_demos > 0:
        if choices.selection == "similar":
            selector = SimilarSelector(
                train,
                choices.n_demos,
                fields=Template(choices.candidate.template).fields or task.input_fields,
                order="similar_last" if choices.order == "similar_last" else "most_similar_first",
                embed=load_embedder(embedder),
                embedder_name=embedder,
            )
        else:
            seed = split_seed * 1000 + choices.demo_seed
            picked = select_random(train, choices.n_demos, seed=seed)
            demos = order_demonstrations(picked, choices.order, seed)
    return Prompt(
        template=Template(choices.candidate.template),
        verbalizer=choices.verbalizer,
        instruction=choices.candidate.instruction,
        demonstrations=demos,
        calibrate=choices.calibrate,
        selector=selector,
    )


class DevScorer:
    """Scores prompts on the dev set in chunks, reporting per-example values to a pruner.

    Dev examples are visited in one order fixed for the study, and example ``i`` is always
    reported at step ``i``, as Optuna's ``WilcoxonPruner`` requires. Each example's value is
    ``correct + 0.01 * p(true label)``; its mean is the objective.
    """

    def __init__(
        self,
        scorer: BaseScorer,
        task: Task,
        dev: Sequence[Example],
        *,
        cache: ScoreCache | None,
        chunk_size: int = 8,
        per_example_reports: bool = True,
        seed: int = 0,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.dev = [dev[i] for i in rng.permutation(len(dev))]
        self.scorer = scorer
        self.task = task
        self.cache = cache
        self.chunk_size = max(1, chunk_size)
        self.per_example_reports = per_example_reports

    def values(
        self, prompt: Prompt, examples: Sequence[Example], scorer: BaseScorer | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-example objective values and correctness, by ``scorer`` (default: the study's).

        Scores are cached under the scorer's model id; tuned scorers carry a content hash of
        their trained weights in it, so their scores never mix with the base model's.
        """
        scores = score_prompt(scorer or self.scorer, prompt, examples, cache=self.cache)
        labels = np.array([self.task.label_index(e.label) for e in examples])
        correct = (scores.argmax(axis=1) == labels).astype(np.float64)
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        p_true = (shifted / shifted.sum(axis=1, keepdims=True))[np.arange(len(labels)), labels]
        return correct + TieBreak * p_true, correct

    def full(self, prompt: Prompt, scorer: BaseScorer | None = None) -> tuple[float, float]:
        """Objective and accuracy on the whole dev set (no pruning)."""
        values, correct = self.values(prompt, self.dev, scorer=scorer)
        return float(values.mean()), float(correct.mean())

    def run(self, trial: optuna.Trial, prompt: Prompt, scorer: BaseScorer | None = None) -> float:
        """Score ``prompt`` chunk by chunk; stop early when the pruner says so.

        ``scorer`` replaces the study's scorer (a tuned model or soft prompt).
        """
        import optuna

        done: list[float] = []
        correct_all: list[float] = []
        own = scorer or self.scorer
        before = own.stats.instances
        for start in range(0, len(self.dev), self.chunk_size):
            chunk = self.dev[start : start + self.chunk_size]
            values, correct = self.values(prompt, chunk, scorer=scorer)
            done.extend(values.tolist())
            correct_all.extend(correct.tolist())
            if self.per_example_reports:
                for i, v in enumerate(values):
                    trial.report(float(v), start + i)
            else:
                trial.report(float(np.mean(done)), len(done))
            if len(done) < len(self.dev) and trial.should_prune():
                trial.set_user_attr("pruned_at", len(done))
                break
        trial.set_user_attr("n_evaluated", len(done))
        trial.set_user_attr("dev_accuracy", float(np.mean(correct_all)))
        trial.set_user_attr("evaluations", own.stats.instances - before)
        if len(done) < len(self.dev) and not self.per_example_reports:
            raise optuna.TrialPruned()
        return float(np.mean(done))


def candidate_from_attrs(attrs: Mapping[str, Any]) -> Candidate:
    """The candidate a trial scored, from the user attributes :func:`choices_attrs` wrote."""
    return Candidate(
        instruction=attrs["instruction"],
        template=attrs["template"],
        origin=attrs.get("origin", "seed"),
        parents=tuple(attrs.get("parents", ())),
        generation=int(attrs.get("generation", 0)),
    )


def override_final(space: SearchSpace, *, test_limit: int | None, top: int | None) -> SearchSpace:
    """A copy of ``space`` whose final evaluation uses ``test_limit`` and ``top`` where given."""
    if test_limit is None and top is None:
        return space
    final = replace(
        space.final,
        test_limit=space.final.test_limit if test_limit is None else test_limit,
        top=space.final.top if top is None else top,
    )
    return replace(space, final=final)


def choices_attrs(choices: PromptChoices, prompt: Prompt, generation: int) -> dict[str, Any]:
    """User attributes that describe a trial's prompt for reports and resumption."""
    return {
        "generation": generation,
        "candidate_id": choices.candidate.id,
        "prompt_id": prompt.id,
        "origin": choices.candidate.origin,
        "parents": list(choices.candidate.parents),
        "instruction": choices.candidate.instruction,
        "template": choices.candidate.template,
        "verbalizer_words": json.dumps(choices.verbalizer.to_dict()),
        "n_demos_used": choices.n_demos,
        "selection": choices.selection if choices.n_demos else "none",
    }


def check_embedder(space: SearchSpace) -> str:
    """Load the sentence encoder once, before any trial, when similar demonstrations are searched.

    A bad name then fails the run at once with a clear message, instead of failing every
    ``similar`` trial one by one.
    """
    demos = space.demonstrations
    name = demos.embedder
    if "similar" in demos.selection and any(c > 0 for c in demos.counts):
        try:
            load_embedder(name)
        except PromptSearchError as exc:
            raise ConfigError(f"demonstrations.embedder: {exc}") from None
    return name

"""Scoring prompts through a backend: label scores, choice scores and generated texts.

:func:`predict` turns a prompt and examples into :class:`~promptsearch.metrics.Predictions`
by the task type's prediction kind; :func:`score_prompt` gives the label scores of a
classification prompt. Scorers are language-model backends (:mod:`promptsearch.backends`);
``make_scorer`` builds the ``hf`` one for a loaded model.
"""

from promptsearch.scoring._base import ProgressCallback, length_batches, make_scorer
from promptsearch.scoring._outputs import (
    ChoiceScores,
    GeneratedText,
    LabelScores,
    OutputStrategy,
    PromptOutputs,
    generation_settings,
    outputs,
    predict,
    register_output,
    softmax,
)
from promptsearch.scoring._prompt_scoring import (
    ScoreCache,
    aggregate_labels,
    calibrate_scores,
    ensemble_scores,
    fit_instances,
    raw_choice_scores,
    request_key,
    requests_of,
    score_members,
    score_prompt,
)

__all__ = [
    "ChoiceScores",
    "GeneratedText",
    "LabelScores",
    "OutputStrategy",
    "ProgressCallback",
    "PromptOutputs",
    "ScoreCache",
    "aggregate_labels",
    "calibrate_scores",
    "ensemble_scores",
    "fit_instances",
    "generation_settings",
    "length_batches",
    "make_scorer",
    "outputs",
    "predict",
    "raw_choice_scores",
    "register_output",
    "request_key",
    "requests_of",
    "score_members",
    "score_prompt",
    "softmax",
]

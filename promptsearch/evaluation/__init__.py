"""Evaluation of a prompt on a task: every metric of its prediction kind, with an interval."""

from promptsearch.evaluation._evaluate import EvaluationResult, evaluate, evaluate_prompt
from promptsearch.metrics import metrics

__all__ = ["EvaluationResult", "evaluate", "evaluate_prompt", "metrics"]

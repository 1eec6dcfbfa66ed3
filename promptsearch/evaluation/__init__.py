"""Evaluation of a prompt on a task: every metric of its prediction kind, with an interval."""

from promptsearch.evaluation._evaluate import EvaluationResult, evaluate, evaluate_prompt
from promptsearch.evaluation._metrics import bootstrap_ci, compute_metrics
from promptsearch.metrics import metrics

__all__ = ["EvaluationResult", "bootstrap_ci", "compute_metrics", "evaluate", "evaluate_prompt", "metrics"]

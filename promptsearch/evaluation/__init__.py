"""Metrics and evaluation of a prompt on a task."""

from promptsearch.evaluation._evaluate import EvaluationResult, evaluate, evaluate_prompt
from promptsearch.evaluation._metrics import bootstrap_ci, compute_metrics, metrics

__all__ = ["EvaluationResult", "bootstrap_ci", "compute_metrics", "evaluate", "evaluate_prompt", "metrics"]

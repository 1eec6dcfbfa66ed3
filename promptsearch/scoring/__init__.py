"""Batched log-likelihood scoring of prompts with causal, masked and seq2seq models."""

from promptsearch.scoring._base import BaseScorer, ScorerStats, length_batches, make_scorer, scorers
from promptsearch.scoring._prompt_scoring import (
    ScoreCache,
    aggregate_labels,
    calibrate_scores,
    fit_instances,
    score_prompt,
)

__all__ = [
    "BaseScorer",
    "ScoreCache",
    "ScorerStats",
    "aggregate_labels",
    "calibrate_scores",
    "fit_instances",
    "length_batches",
    "make_scorer",
    "score_prompt",
    "scorers",
]

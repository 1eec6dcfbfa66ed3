"""BLEU and chrF from sacrebleu: corpus-level scores, sentence-level values per example.

Both are corpus metrics (``paired = False``): the aggregate is sacrebleu's corpus score
(``corpus_bleu``, ``corpus_chrf``) over every example with all of its references; the
per-example values are sentence-level scores (``sentence_bleu``, ``sentence_chrf``), a proxy
that per-example pruners may compare. Values are sacrebleu's 0-100 scores divided by 100, on
the same 0-1 scale as the other metrics.

BLEU uses sacrebleu's effective n-gram order at both levels: a corpus score is then exactly
``corpus_bleu``'s as soon as one output has four tokens, and for a corpus of shorter answers
(where standard BLEU is 0, undefined) it uses the n-gram orders that occur.

sacrebleu is imported on first use, so importing :mod:`promptsearch.metrics` stays light.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from promptsearch.metrics._base import BaseMetric, Predictions, register_metric

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Metric

__all__ = ["Bleu", "Chrf"]

_STATS_CACHE = 1 << 16  # Segments whose statistics are kept (bootstrap resamples reuse them).


@functools.cache
def _scorer(name: str) -> Metric:
    """The sacrebleu scorer ``name`` (``bleu`` or ``chrf``) with its default settings.

    BLEU uses effective n-gram order (as ``sacrebleu.sentence_bleu`` does), so that outputs
    shorter than four tokens are not scored zero.
    """
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF

    if name == "bleu":
        return BLEU(effective_order=True)
    return CHRF()


@functools.lru_cache(maxsize=_STATS_CACHE)
def _segment_stats(name: str, hypothesis: str, references: tuple[str, ...]) -> tuple[float, ...]:
    """sacrebleu's sufficient statistics of one segment against its references."""
    scorer = _scorer(name)
    stats = scorer._extract_corpus_statistics([hypothesis], [[ref] for ref in references])
    return tuple(stats[0])


def _references(refs: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(r) for r in refs) or ("",)


class _SacreBleuMetric(BaseMetric):
    """A sacrebleu metric: corpus score as the aggregate, sentence scores per example."""

    kinds = frozenset({"text"})
    paired = False
    scorer_name: ClassVar[str] = ""

    def per_example(self, predictions: Predictions) -> np.ndarray:
        scorer = _scorer(self.scorer_name)
        values = [
            scorer.sentence_score(str(out), list(_references(refs))).score / 100.0
            for out, refs in zip(predictions.predicted, predictions.targets)
        ]
        return np.array(values, dtype=np.float64)

    def aggregate(self, predictions: Predictions) -> float:
        """sacrebleu's corpus score over the examples (each with all its references) / 100.

        Equal to ``corpus_bleu`` / ``corpus_chrf`` with the references as streams padded with
        ``None`` (see the module's note on BLEU's n-gram order): both sum per-segment
        statistics, which are cached here so that bootstrap resamples cost a sum, not a
        re-tokenization.
        """
        if not len(predictions):
            return 0.0
        stats = [
            _segment_stats(self.scorer_name, str(out), _references(refs))
            for out, refs in zip(predictions.predicted, predictions.targets)
        ]
        total = [sum(column) for column in zip(*stats)]
        return float(_scorer(self.scorer_name)._compute_score_from_stats(total).score) / 100.0

    def sufficient_statistics(self, predictions: Predictions) -> np.ndarray | None:
        """sacrebleu's statistics of every segment (the ones the corpus score sums)."""
        if not len(predictions):
            return None
        rows = [
            _segment_stats(self.scorer_name, str(out), _references(refs))
            for out, refs in zip(predictions.predicted, predictions.targets)
        ]
        return np.array(rows, dtype=np.int64)

    def aggregate_statistics(self, predictions: Predictions, totals: np.ndarray) -> np.ndarray:
        scorer = _scorer(self.scorer_name)
        scores = [float(scorer._compute_score_from_stats(row).score) / 100.0 for row in totals.tolist()]
        return np.array(scores, dtype=np.float64)


@register_metric
class Bleu(_SacreBleuMetric):
    """BLEU (sacrebleu defaults: 13a tokenization, 4-grams, exponential smoothing), 0-1.

    Example:
        >>> from promptsearch.metrics import Predictions, get_metric
        >>> p = Predictions("text", ("the cat sat on the mat",), (("the cat sat on the mat",),))
        >>> round(get_metric("bleu").aggregate(p), 6)
        1.0
    """

    name = "bleu"
    scorer_name = "bleu"


@register_metric
class Chrf(_SacreBleuMetric):
    """chrF (sacrebleu defaults: character 6-grams, beta 2, no word n-grams), 0-1.

    Example:
        >>> from promptsearch.metrics import Predictions, get_metric
        >>> p = Predictions("text", ("A pub near the river.",), (("A pub by the river.",),))
        >>> 0.5 < get_metric("chrf").aggregate(p) < 1.0
        True
    """

    name = "chrf"
    scorer_name = "chrf"

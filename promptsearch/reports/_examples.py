"""The winner's outputs on the first dev examples (generation tasks), each with its metric value."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import PromptSearchError
from promptsearch.reports._markdown import md_cell

if TYPE_CHECKING:
    from promptsearch.reports._records import Leaderboard

__all__ = ["OutputExample", "outputs_markdown", "winner_outputs"]

_logger = logging.getLogger(__name__)

#: Examples the Markdown leaderboard shows (the HTML report shows every stored one).
MARKDOWN_EXAMPLES = 5
#: Characters of a Markdown cell before it is cut with an ellipsis.
MARKDOWN_WIDTH = 60


@dataclass(frozen=True)
class OutputExample:
    """One dev example with the winner's output.

    Attributes:
        inputs: The example's input fields (field -> text).
        output: What the winner generated.
        references: The example's reference texts.
        score: The study's metric on this example alone (``None`` when it cannot be computed:
            a metric of another prediction kind, or its package missing).
    """

    inputs: Mapping[str, str]
    output: str
    references: tuple[str, ...]
    score: float | None = None

    @property
    def input_text(self) -> str:
        """The inputs as text: the value of a single field, else ``field: value`` lines."""
        if len(self.inputs) == 1:
            return next(iter(self.inputs.values()))
        return "\n".join(f"{name}: {value}" for name, value in self.inputs.items())


def winner_outputs(board: Leaderboard) -> tuple[OutputExample, ...]:
    """The winner's stored dev outputs (``LeaderboardRow.examples``) with their metric values.

    Each value is the board's metric computed on that one example (for corpus metrics such as
    BLEU and chrF, the sentence-level score). Empty for boards without stored outputs.

    Example:
        >>> [(e.output, e.score) for e in winner_outputs(board)]  # doctest: +SKIP
        [('Portugal', 1.0), ('Lisbon', 0.0)]
    """
    if not board.rows or not board.best.examples:
        return ()
    raw = [_example(item) for item in board.best.examples]
    scores = _scores(board.metric, [e.output for e in raw], [e.references for e in raw])
    return tuple(OutputExample(e.inputs, e.output, e.references, score) for e, score in zip(raw, scores))


def outputs_markdown(
    board: Leaderboard, *, limit: int = MARKDOWN_EXAMPLES, width: int = MARKDOWN_WIDTH
) -> list[str]:
    """Markdown lines of a short table of the winner's outputs (none without stored outputs)."""
    examples = winner_outputs(board)
    if not examples:
        return []
    shown = examples[:limit]
    lines = [
        "",
        f"## Winner's outputs (first {len(shown)} of {len(examples)} stored dev examples)",
        "",
        f"{board.metric} is computed on each example alone; report.html shows every stored example.",
        "",
        f"| input | output | references | {board.metric} |",
        "|---|---|---|---|",
    ]
    for e in shown:
        score = "–" if e.score is None else f"{e.score:.3f}"
        refs = " / ".join(e.references)
        lines.append(
            f"| {_md(e.input_text, width)} | {_md(e.output, width)} | {_md(refs, width)} | {score} |"
        )
    return lines


def _example(item: Mapping[str, Any]) -> OutputExample:
    raw_inputs = item.get("input", {})
    inputs = (
        {str(k): str(v) for k, v in raw_inputs.items()}
        if isinstance(raw_inputs, Mapping)
        else {"input": str(raw_inputs)}
    )
    refs = item.get("references", ())
    references = (refs,) if isinstance(refs, str) else tuple(str(r) for r in refs or ())
    return OutputExample(inputs, str(item.get("output", "")), references)


def _scores(
    metric_name: str, outputs: Sequence[str], references: Sequence[tuple[str, ...]]
) -> list[float | None]:
    """The metric on each example alone, or ``None`` for all when it cannot be computed."""
    from promptsearch.metrics import Predictions, get_metric

    try:
        metric = get_metric(metric_name)
        if "text" not in metric.kinds:
            return [None] * len(outputs)
        values = metric.per_example(Predictions("text", tuple(outputs), tuple(references)))
    except (PromptSearchError, ImportError) as exc:  # an unknown plugin metric, a missing package
        _logger.debug("No per-example %s for the report: %s", metric_name, exc)
        return [None] * len(outputs)
    return [float(v) for v in values]


def _md(text: str, width: int) -> str:
    """One Markdown table cell (see :func:`~promptsearch.reports._markdown.md_cell`)."""
    return md_cell(text, width)

"""The data's class balance in a search: the metric prompts are compared by, and what the
leaderboard says about it.

A few-shot dev set holds ``k`` examples per class; the user's data rarely do. For metrics whose
value depends on the class mix (accuracy), each selection example is weighted by its class's
share in the data (every labelled example outside test) over its share among the selection
examples, so that the objective, the pruners' values and the paired winner test all estimate
the metric on the data's own balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptsearch.engine._context import SearchContext
    from promptsearch.metrics import BaseMetric
    from promptsearch.tasks import Example, Task

__all__ = ["at_data_balance", "balance_metadata"]


def at_data_balance(
    metric: BaseMetric, task: Task, examples: Sequence[Example], shares: Sequence[float]
) -> BaseMetric:
    """``metric`` as it reads on the data's class balance ``shares``, estimated on ``examples``
    (see :func:`promptsearch.metrics.weighted_by_class`). Metrics that weight classes equally,
    and tasks without classes, keep ``metric`` as it is."""
    from promptsearch.metrics import weighted_by_class

    if task.kind.output != "label" or not shares:
        return metric
    return weighted_by_class(metric, [task.label_index(e.label) for e in examples], shares)


def balance_metadata(ctx: SearchContext) -> dict[str, Any]:
    """The split's strategy, the data's and the selection examples' class shares, and what the
    selection scores estimate (for the leaderboard's metadata)."""
    from promptsearch.metrics import ClassWeighted

    task, split = ctx.task, ctx.split
    metric = ctx.objective.metric
    out: dict[str, Any] = {"strategy": split.strategy, "confirm_n": len(split.confirm)}
    if task.label_names and split.shares:
        selection = ctx.selection_examples
        out["data_shares"] = dict(zip(task.label_names, split.shares))
        out["selection_shares"] = {
            name: sum(e.label == name for e in selection) / max(1, len(selection))
            for name in task.label_names
        }
    out["objective"] = (
        f"{metric.name} at the data's class shares (each example weighted by its class's share in the "
        "data over its share among the selection examples)"
        if isinstance(metric, ClassWeighted)
        else f"{metric.name} on the selection examples"
    )
    return out

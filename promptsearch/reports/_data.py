"""The report's plain data record, computed from a study and its leaderboard before any drawing."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from promptsearch.reports._examples import OutputExample, winner_outputs
from promptsearch.reports._lineage import Lineage, build_lineage
from promptsearch.reports._records import Leaderboard, LeaderboardRow
from promptsearch.study import Attr, is_pruned

if TYPE_CHECKING:
    import optuna

__all__ = [
    "ClassReport",
    "GroupStats",
    "HistoryPoint",
    "Importances",
    "LengthPoint",
    "ReportData",
    "build_report_data",
    "group_stats",
    "task_type_of",
]


@dataclass(frozen=True)
class HistoryPoint:
    """One trial of the optimization history.

    Attributes:
        number: Optuna trial number.
        value: The objective (``None`` for trials without one: failed, running, pruned early).
        best: Best objective among finished trials up to and including this one.
        state: Optuna state name (``COMPLETE``, ``PRUNED``, ``FAIL``, ...).
        pruned: Whether the pruner stopped it (state ``PRUNED`` or a ``pruned_at`` attribute:
            per-example Wilcoxon pruning completes a trial with its partial mean).
    """

    number: int
    value: float | None
    best: float | None
    state: str
    pruned: bool


@dataclass(frozen=True)
class GroupStats:
    """Objective values of one group of trials (an operator or a generation) and their summary."""

    name: str
    values: tuple[float, ...]
    n: int
    mean: float
    std: float
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class Importances:
    """Hyperparameter importances (fANOVA), largest first, or why there are none."""

    values: tuple[tuple[str, float], ...]
    message: str = ""


@dataclass(frozen=True)
class ClassReport:
    """The winner's test confusion matrix (rows: true label, columns: predicted) and per-class scores."""

    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    per_class: dict[str, dict[str, float]]

    @property
    def available(self) -> bool:
        return bool(self.labels) and bool(self.confusion)


@dataclass(frozen=True)
class LengthPoint:
    """Prompt length (characters of instruction + template) and objective of one completed trial."""

    number: int
    length: int
    value: float
    origin: str


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, as plain values; renderers only draw it.

    Build it with :func:`build_report_data`.

    Attributes:
        leaderboard: The ranked leaderboard (its ``rows`` are the table).
        history: One point per trial, in trial order, with the best value so far.
        by_operator: Completed trials' objective values grouped by the origin of their candidate.
        by_generation: The same grouped by generation (names ``g0``, ``g1``, ...).
        lineage: How the winner's candidate was derived from seeds or grammar samples.
        importances: Hyperparameter importances or an explanation of their absence.
        classes: The winner's confusion matrix and per-class scores.
        lengths: Prompt length against objective for completed trials.
        direction: ``maximize`` or ``minimize``.
        task_type: ``classification``, ``multiple_choice`` or ``generation`` (``""``: unknown,
            from a leaderboard written before it was recorded).
        outputs: Generation tasks: the winner's outputs on the first dev examples, each with
            the metric on that example alone.
    """

    leaderboard: Leaderboard
    history: tuple[HistoryPoint, ...]
    by_operator: tuple[GroupStats, ...]
    by_generation: tuple[GroupStats, ...]
    lineage: Lineage
    importances: Importances
    classes: ClassReport
    lengths: tuple[LengthPoint, ...]
    direction: str = "maximize"
    task_type: str = ""
    outputs: tuple[OutputExample, ...] = ()

    @property
    def rows(self) -> tuple[LeaderboardRow, ...]:
        return self.leaderboard.rows

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-compatible values."""
        out = asdict(self)
        out["leaderboard"] = self.leaderboard.to_dict()
        return out


def build_report_data(study: optuna.Study, leaderboard: Leaderboard) -> ReportData:
    """Compute the report record of a finished search.

    Args:
        study: The search's Optuna study (trials carry the prompt user attributes; study user
            attributes ``pool_g{N}`` hold each generation's candidates).
        leaderboard: The search's leaderboard; its first row is the winner.

    Returns:
        The :class:`ReportData` record.

    Example:
        >>> data = build_report_data(study, board)  # doctest: +SKIP
        >>> html = render_html(data)  # doctest: +SKIP
    """
    import optuna

    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    direction = "minimize" if study.directions[0] == optuna.study.StudyDirection.MINIMIZE else "maximize"
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and _finite(t.value)]
    best_by_candidate: dict[str, float] = {}
    for t in complete:
        cid = t.user_attrs.get(Attr.CANDIDATE_ID)
        if cid is not None:
            value = float(t.value)  # type: ignore[arg-type]
            old = best_by_candidate.get(str(cid))
            best_by_candidate[str(cid)] = value if old is None else _better(old, value, direction)
    winner = leaderboard.rows[0] if leaderboard.rows else None
    return ReportData(
        leaderboard=leaderboard,
        history=_history(trials, direction),
        by_operator=tuple(_grouped(complete, lambda t: str(t.user_attrs.get(Attr.ORIGIN, "unknown")))),
        by_generation=tuple(
            _grouped(
                complete,
                lambda t: f"g{t.user_attrs.get(Attr.GENERATION, '?')}",
                order=lambda name: (len(name), name),
            )
        ),
        lineage=build_lineage(study.user_attrs, winner, best_by_candidate),
        importances=_importances(study, len(complete)),
        classes=ClassReport(winner.labels, winner.confusion, winner.per_class)
        if winner
        else ClassReport((), (), {}),
        lengths=tuple(_length(t) for t in complete if "template" in t.user_attrs),
        direction=direction,
        task_type=task_type_of(leaderboard),
        outputs=winner_outputs(leaderboard),
    )


def task_type_of(board: Leaderboard) -> str:
    """The board's task type: recorded by the search, else guessed from its winner (``""``)."""
    recorded = board.metadata.get("task_type")
    if recorded:
        return str(recorded)
    if not board.rows:
        return ""
    best = board.best
    if best.examples:
        return "generation"
    return "classification" if best.labels else ""


def group_stats(name: str, values: Iterable[float]) -> GroupStats:
    """Summary statistics of ``values`` (population std; empty groups give NaN)."""
    import numpy as np

    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        nan = float("nan")
        return GroupStats(name, (), 0, nan, nan, nan, nan, nan, nan, nan)
    q1, median, q3 = (float(v) for v in np.percentile(arr, [25, 50, 75]))
    return GroupStats(
        name,
        tuple(float(v) for v in arr),
        int(arr.size),
        float(arr.mean()),
        float(arr.std()),
        median,
        q1,
        q3,
        float(arr.min()),
        float(arr.max()),
    )


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _better(a: float, b: float, direction: str) -> float:
    return min(a, b) if direction == "minimize" else max(a, b)


def _length(trial: optuna.trial.FrozenTrial) -> LengthPoint:
    a = trial.user_attrs
    text = str(a.get("instruction") or "") + str(a["template"])
    return LengthPoint(trial.number, len(text), float(trial.value or 0.0), str(a.get("origin", "unknown")))


def _history(trials: Sequence[optuna.trial.FrozenTrial], direction: str) -> tuple[HistoryPoint, ...]:
    points: list[HistoryPoint] = []
    best: float | None = None
    for t in trials:
        value = float(t.values[0]) if t.values and _finite(t.values[0]) else None
        # Like Optuna's own history plot, only completed trials set the best value.
        if value is not None and t.state.name == "COMPLETE":
            best = value if best is None else _better(best, value, direction)
        points.append(HistoryPoint(t.number, value, best, t.state.name, is_pruned(t)))
    return tuple(points)


def _grouped(trials: Sequence[optuna.trial.FrozenTrial], key: Any, order: Any = None) -> list[GroupStats]:
    groups: dict[str, list[float]] = {}
    for t in trials:
        groups.setdefault(key(t), []).append(float(t.value))  # type: ignore[arg-type]
    names = sorted(groups, key=order) if order else sorted(groups)
    return [group_stats(name, groups[name]) for name in names]


def _importances(study: optuna.Study, n_complete: int) -> Importances:
    import optuna

    if n_complete < 2:
        return Importances((), f"Importances need at least 2 completed trials; this study has {n_complete}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except Exception as exc:  # the evaluators fail in many ways on small or conditional studies
        return Importances(
            (),
            f"Importances could not be computed ({type(exc).__name__}: {exc}). They need "
            "parameters sampled in every completed trial and enough trials to fit a model.",
        )
    values = tuple((str(k), float(v)) for k, v in found.items() if math.isfinite(v))
    if not values:
        return Importances(
            (),
            "No parameter was sampled in every completed trial (conditional parameters and "
            "the per-generation template parameters are left out), so none can be ranked.",
        )
    return Importances(values)

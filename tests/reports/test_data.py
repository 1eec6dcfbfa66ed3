"""The report record: tests check the data, not pixels."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from promptsearch.reports import Leaderboard, ReportData, build_report_data
from promptsearch.reports._data import group_stats
from tests.reports._study import TRIALS, XSS, make_leaderboard


def test_history_best_so_far_is_monotone(data: ReportData) -> None:
    assert [p.number for p in data.history] == list(range(len(TRIALS)))
    bests = [p.best for p in data.history if p.best is not None]
    assert bests == sorted(bests)
    assert bests[-1] == pytest.approx(0.78)
    states = {p.number: p for p in data.history}
    assert states[4].state == "FAIL" and states[4].value is None
    assert states[8].state == "PRUNED" and states[8].pruned
    assert states[2].pruned and states[2].state == "COMPLETE"  # Wilcoxon-style: completed with pruned_at
    assert not states[0].pruned


def test_groups_by_operator_and_generation(data: ReportData) -> None:
    ops = {g.name: g for g in data.by_operator}
    assert set(ops) == {"seed", "grammar", "delete", "crossover", "substitute"}
    assert ops["seed"].n == 4 and ops["seed"].maximum == pytest.approx(0.66)
    assert sorted(ops["substitute"].values) == pytest.approx([0.74, 0.78])
    assert ops["substitute"].mean == pytest.approx(0.76)
    gens = [g.name for g in data.by_generation]
    assert gens == ["g0", "g1", "g2"]
    assert sum(g.n for g in data.by_generation) == sum(1 for t in TRIALS if t[3] == TrialState.COMPLETE)


def test_group_stats_summary() -> None:
    g = group_stats("x", [1.0, 2.0, 3.0, 4.0])
    assert (g.n, g.mean, g.median, g.minimum, g.maximum) == (4, 2.5, 2.5, 1.0, 4.0)
    assert g.q1 == pytest.approx(1.75) and g.q3 == pytest.approx(3.25)
    assert group_stats("empty", []).n == 0


def test_lineage_reaches_a_seed(data: ReportData) -> None:
    lin = data.lineage
    assert lin.root == "subF" and lin.nodes[0].id == "subF"
    assert [n.id for n in lin.nodes] == ["subF", "delD", "seedA"]
    assert set(lin.edges) == {("delD", "subF"), ("seedA", "delD")}
    assert lin.reaches_root and lin.nodes[-1].origin == "seed"
    assert lin.node("delD") is not None and lin.node("delD").detail == "deleted 'the'"  # type: ignore[union-attr]
    assert lin.nodes[0].best_value == pytest.approx(0.78) and lin.nodes[0].generation == 2
    assert lin.missing == ()


def test_lineage_of_crossover_has_two_parents(study: optuna.Study) -> None:
    board = make_leaderboard()
    row = board.rows[0]
    from dataclasses import replace

    crossed = replace(row, candidate_id="crossE", origin="crossover", parents=("seedB", "gramC"))
    lin = build_report_data(study, replace(board, rows=(crossed,))).lineage
    assert {n.id for n in lin.nodes} == {"crossE", "seedB", "gramC"}
    assert {n.origin for n in lin.nodes} == {"crossover", "seed", "grammar"}


def test_lineage_missing_pool_is_recorded(board: Leaderboard) -> None:
    study = optuna.create_study(direction="maximize")
    lin = build_report_data(study, board).lineage
    assert lin.nodes[0].id == "subF" and lin.missing == ("delD",)


def test_importances_or_message(data: ReportData) -> None:
    names = [name for name, _ in data.importances.values]
    assert names and set(names) <= {"verbalizer", "n_demos", "calibrate", "demo_seed"}
    assert all(v >= 0 for _, v in data.importances.values)
    assert not any(n.startswith("template_g") for n in names)  # not sampled in every trial


def test_importances_message_with_too_few_trials(board: Leaderboard) -> None:
    study = optuna.create_study(direction="maximize")
    study.add_trial(
        create_trial(value=0.5, params={"x": "a"}, distributions={"x": CategoricalDistribution(["a"])})
    )
    imp = build_report_data(study, board).importances
    assert imp.values == () and "at least 2 completed trials" in imp.message


def test_importances_failure_is_explained(board: Leaderboard) -> None:
    study = optuna.create_study(direction="maximize")
    for i in range(3):  # no parameter at all: nothing to rank
        study.add_trial(create_trial(value=0.5 + i / 10, params={}, distributions={}))
    imp = build_report_data(study, board).importances
    assert imp.values == () and imp.message


def test_classes_and_lengths(data: ReportData) -> None:
    assert data.classes.available and data.classes.labels == ("negative", "positive")
    assert data.classes.confusion == ((40, 10), (8, 42))
    assert data.classes.per_class["positive"]["recall"] == pytest.approx(0.84)
    assert len(data.lengths) == sum(1 for t in TRIALS if t[3] == TrialState.COMPLETE)
    sub = next(p for p in data.lengths if p.origin == "substitute")
    assert sub.length == len(f"Classify review {XSS}." + "Review: {text}\nSentiment: {label}")


def test_record_is_json_serializable(data: ReportData) -> None:
    text = json.dumps(data.to_dict())
    assert "subF" in text and data.rows == data.leaderboard.rows

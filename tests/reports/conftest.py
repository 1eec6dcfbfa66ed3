from __future__ import annotations

import optuna
import pytest

from promptsearch.reports import Leaderboard, ReportData, build_report_data
from tests.reports._study import make_leaderboard, make_study


@pytest.fixture()
def study() -> optuna.Study:
    return make_study()


@pytest.fixture()
def board() -> Leaderboard:
    return make_leaderboard()


@pytest.fixture()
def data(study: optuna.Study, board: Leaderboard) -> ReportData:
    return build_report_data(study, board)

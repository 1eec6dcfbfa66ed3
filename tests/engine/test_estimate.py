"""Per-phase timing in the leaderboard and the cost estimate logged before the trials."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from promptsearch.backends import FakeBackend
from promptsearch.engine import PromptSearch
from promptsearch.reports import leaderboard_markdown
from promptsearch.tasks import Task
from tests.engine.test_fake_backend import classification_space


def test_phases_and_estimate(
    toy_task: Task, fake_lm: FakeBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    space = classification_space()
    with caplog.at_level(logging.INFO, logger="promptsearch.engine._estimate"):
        search = PromptSearch(space, task=toy_task, model=fake_lm, n_trials=6, out_dir=tmp_path).fit()
    phases = search.leaderboard_.metadata["phases"]
    assert set(phases) == {"model_load", "label_words", "trials", "final"}
    assert all(v >= 0 for v in phases.values())
    assert "Time per phase of this run: model load" in leaderboard_markdown(search.leaderboard_)
    estimate = search.estimate_
    n_sel = len(search.selection_examples_)
    assert estimate is not None and estimate.trials == 6
    assert estimate.scorings >= 6 * n_sel and estimate.examples_per_second > 0
    assert any("Cost estimate: at most" in r.getMessage() for r in caplog.records)
    # A finished study has nothing left to estimate.
    again = PromptSearch(space, task=toy_task, model=fake_lm, n_trials=6, out_dir=tmp_path).fit()
    assert again.estimate_ is None

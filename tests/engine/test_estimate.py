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


def test_a_worker_waits_for_another_workers_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe scores the baseline's first examples; a worker that did not win the probe waits
    for its rate instead of starting the baseline trial on the same examples at the same time."""
    import os
    import socket
    import threading
    from types import SimpleNamespace

    import optuna

    from promptsearch.engine import _estimate
    from promptsearch.study import StudyAttr

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    study.set_user_attr(StudyAttr.PROBE, f"{socket.gethostname()}:{os.getppid()}")  # a live worker
    scored: list[int] = []
    ctx: object = SimpleNamespace(
        study=study,
        objective=SimpleNamespace(dev=list(range(20)), predictions=lambda p, ex: scored.append(len(ex))),
        space=SimpleNamespace(
            templates=SimpleNamespace(seeds=("{text}{label}",)), final=SimpleNamespace(test_limit=0, top=2)
        ),
        split=SimpleNamespace(test=list(range(10))),
        stopping=lambda: False,
    )
    timer = threading.Timer(0.5, study.set_user_attr, (StudyAttr.PROBE_RATE, 12.5))
    timer.start()
    estimate = _estimate.estimate_cost(ctx, 4)  # type: ignore[arg-type]
    timer.join()
    assert estimate is not None and estimate.examples_per_second == 12.5  # the other worker's rate
    assert scored == []  # nothing probed twice
    # A prober that never stores its rate is waited for at most PROBE_WAIT_SECONDS.
    study.set_user_attr(StudyAttr.PROBE_RATE, None)
    monkeypatch.setattr(_estimate, "PROBE_WAIT_SECONDS", 0.3)
    assert _estimate.estimate_cost(ctx, 4) is None and scored == []  # type: ignore[arg-type]

"""Trials of workers that died: failed, retried with the same choices, never waited on forever."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from promptsearch.engine import _workers
from promptsearch.study import Attr, make_storage, worker_id

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")

_TAKE_A_TRIAL_AND_DIE = """
import os, sys
import optuna
from promptsearch.study import make_storage
study = optuna.load_study(study_name="s", storage=make_storage(sys.argv[1]))
study.ask()  # a new trial, RUNNING; the process dies before its first heartbeat
os._exit(0)
"""


@pytest.fixture(params=["sqlite", "journal"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/study.db" if request.param == "sqlite" else f"journal:{tmp_path}/study.log"


def _study(url: str) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name="s", storage=make_storage(url), load_if_exists=True)


def test_a_worker_that_dies_as_it_takes_a_trial_leaves_a_trial_naming_it(url: str) -> None:
    study = _study(url)
    child = subprocess.run([sys.executable, "-c", _TAKE_A_TRIAL_AND_DIE, url], check=True)
    assert child.returncode == 0
    (orphan,) = study.get_trials(deepcopy=False)
    assert orphan.state.name == "RUNNING" and orphan.user_attrs[Attr.WORKER] != worker_id()
    assert _workers.fail_stale(study) == 1  # its process is gone: failed at once
    failed, retry = study.get_trials(deepcopy=False)
    assert failed.state.name == "FAIL" and retry.state.name == "WAITING"
    assert retry.system_attrs["failed_trial"] == failed.number
    assert Attr.WORKER not in retry.user_attrs  # queued without the dead worker's name ...
    taken = study.ask()
    assert taken.number == retry.number  # ... then the taker's
    assert taken.user_attrs[Attr.WORKER] == worker_id()
    assert _workers.fail_stale(study) == 0  # a live worker's trial is left alone


def test_new_and_queued_trials_name_their_worker_when_they_start(url: str) -> None:
    study = _study(url)
    assert study.ask().user_attrs[Attr.WORKER] == worker_id()
    study.enqueue_trial({}, user_attrs={Attr.WORKER: "elsewhere:1", "kept": 1})  # a retry copies attrs
    storage = make_storage(url)  # another process's view of the same study
    queued = study.get_trials(deepcopy=False)[-1]
    assert storage.set_trial_state_values(queued._trial_id, optuna.trial.TrialState.RUNNING)
    started = storage.get_trial(queued._trial_id)
    assert started.user_attrs == {Attr.WORKER: worker_id(), "kept": 1}


def test_a_running_trial_naming_no_worker_is_failed_after_the_grace_period(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(url)
    template = copy.deepcopy(study.ask()._cached_frozen_trial)  # a trial of an older version:
    template.user_attrs = {}  # no worker named
    trial_id = study._storage.create_new_trial(study._study_id, template)
    monkeypatch.setattr(_workers, "ORPHAN_SECONDS", 3600.0)
    assert _workers.fail_stale(study) == 0  # its worker may still be setting it up
    monkeypatch.setattr(_workers, "ORPHAN_SECONDS", 0.0)
    assert _workers.fail_stale(study) == 1
    assert study._storage.get_trial(trial_id).state.name == "FAIL"
    assert study.trials[0].state.name == "RUNNING"  # this worker's own trial is left alone

"""Each Optuna internal promptsearch relies on (``study/_optuna.py``), checked against the
installed Optuna: an Optuna release that changes one fails here, naming it."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import optuna
import pytest

from promptsearch.study import _optuna, make_storage
from promptsearch.study._owned import OwnedJournalStorage, OwnedRDBStorage


@pytest.fixture(params=["sqlite", "journal"])
def study(request: pytest.FixtureRequest, tmp_path: Path) -> optuna.Study:
    url = f"sqlite:///{tmp_path}/s.db" if request.param == "sqlite" else f"journal:{tmp_path}/s.log"
    return optuna.create_study(storage=make_storage(url), study_name="s")


def test_the_storage_under_the_cache_and_the_study_id(study: optuna.Study, tmp_path: Path) -> None:
    storage = _optuna.study_storage(study)
    assert isinstance(storage, (OwnedRDBStorage, OwnedJournalStorage))  # the cache wrapper is gone
    assert _optuna.study_id(study) == storage.get_study_id_from_name("s")
    journal = _optuna.journal_file(storage)
    assert journal == (f"{tmp_path}/s.log" if isinstance(storage, OwnedJournalStorage) else None)
    assert _optuna.journal_file(optuna.storages.InMemoryStorage()) is None


def test_failing_a_running_trial(study: optuna.Study) -> None:
    trial = study.ask()
    frozen = study.trials[trial.number]
    assert _optuna.fail_running_trial(study, frozen)
    assert study.trials[trial.number].state == optuna.trial.TrialState.FAIL
    assert not _optuna.fail_running_trial(study, frozen)  # already finished: False, no error


def test_the_stop_flag_a_callback_sets() -> None:
    study = optuna.create_study()
    seen: list[bool] = []

    def stop(s: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
        s.stop()
        seen.append(_optuna.stop_requested(s))

    study.optimize(lambda t: 0.0, n_trials=3, callbacks=[stop])
    assert seen == [True] and len(study.trials) == 1


def test_relational_internals(tmp_path: Path) -> None:
    storage = make_storage(f"sqlite:///{tmp_path}/r.db")
    study = optuna.create_study(storage=storage, study_name="r")
    models = _optuna.rdb_models()
    for name in ("TrialModel", "TrialUserAttributeModel", "StudyUserAttributeModel"):
        assert hasattr(models, name), f"optuna.storages._rdb.models.{name} is gone"
    column, now = _optuna.start_column()
    assert column is not None and now.tzinfo is None
    trial = study.ask()
    trial_id = study.trials[trial.number]._trial_id
    with _optuna.rdb_session(storage) as session:
        _optuna.set_trial_attr_in_session(storage, session, trial_id, "k", "v")
    assert study.trials[trial.number].user_attrs["k"] == "v"
    # the hook the owned storage overrides is the one Optuna's cached storage calls
    assert "template_trial" in inspect.signature(optuna.storages.RDBStorage._create_new_trial).parameters
    cached = inspect.getsource(type(study._storage).create_new_trial)
    assert "_create_new_trial" in cached, "Optuna's cached storage no longer calls _create_new_trial"


def test_the_optimize_logger_is_the_one_optuna_logs_failed_trials_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The logger ``quiet_surplus_trials`` filters: a trial ending with no value is logged there."""
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING, logger=_optuna.OPTIMIZE_LOGGER):
            optuna.create_study().optimize(lambda t: None, n_trials=1)  # type: ignore[arg-type,return-value]
    finally:
        optuna.logging.disable_propagation()
    assert any(
        r.name == _optuna.OPTIMIZE_LOGGER and r.getMessage() == "Trial 0 failed with value None."
        for r in caplog.records
    )

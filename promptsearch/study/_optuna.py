"""The Optuna internals promptsearch relies on, in one place.

Optuna's public API does not cover what many workers on one study need: the atomic "first
writer wins" of a study attribute, failing a dead worker's trial, starting a queued trial in one
transaction, the stop flag a callback sets. Each private name used for that is read here and
nowhere else (``tests/test_architecture.py`` checks it), and ``tests/study/test_optuna_adapter.py``
fails when an Optuna release changes one of them, naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

__all__ = [
    "OPTIMIZE_LOGGER",
    "fail_running_trial",
    "journal_file",
    "rdb_models",
    "rdb_session",
    "set_trial_attr_in_session",
    "start_column",
    "stop_requested",
    "study_id",
    "study_storage",
]

#: The logger Optuna's ``Study.optimize`` reports finished and failed trials on.
OPTIMIZE_LOGGER = "optuna.study._optimize"


def study_storage(study: optuna.Study) -> Any:
    """The storage of ``study``, under Optuna's in-process cache wrapper (``_CachedStorage``)."""
    storage: Any = study._storage
    if type(storage).__name__ == "_CachedStorage":
        return storage._backend
    return storage


def study_id(study: optuna.Study) -> int:
    """The study's id in its storage."""
    return int(study._study_id)


def journal_file(storage: Any) -> str | None:
    """The file of a journal storage kept in a file (``None`` for any other storage)."""
    from optuna.storages import JournalStorage

    if isinstance(storage, JournalStorage):
        path = getattr(storage._backend, "_file_path", None)
        return None if path is None else str(path)
    return None


def fail_running_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
    """Mark a running trial of another (dead) worker failed; ``False`` when it already finished
    or another worker failed it first."""
    import optuna

    try:
        return bool(
            study._storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)
        )
    except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
        return False


def stop_requested(study: optuna.Study) -> bool:
    """Whether a callback called ``study.stop()`` during the current ``optimize``."""
    return bool(getattr(study, "_stop_flag", False))


def rdb_models() -> Any:
    """Optuna's SQLAlchemy models of a relational storage (``optuna.storages._rdb.models``)."""
    from optuna.storages._rdb import models

    return models


@contextmanager
def rdb_session(storage: Any) -> Iterator[Any]:
    """A session of a relational storage, committed at the end of the block (rolled back on
    an error), as Optuna's own writes are."""
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(storage.scoped_session) as session:
        yield session


def set_trial_attr_in_session(storage: Any, session: Any, trial_id: int, key: str, value: Any) -> None:
    """Write a trial user attribute inside ``session`` (one transaction with the caller's writes)."""
    storage._set_trial_attr_without_commit(
        session, rdb_models().TrialUserAttributeModel, trial_id, key, value
    )


def start_column() -> tuple[Any, datetime]:
    """The column of a trial's start time and the value "now" written to it (Optuna >= 4.6
    stores naive UTC behind a property; earlier releases local time)."""
    trial = rdb_models().TrialModel
    column = getattr(trial, "_datetime_start_utc", None)
    if column is not None:
        return column, datetime.now(timezone.utc).replace(tzinfo=None)
    return trial.datetime_start, datetime.now()

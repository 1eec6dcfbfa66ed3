"""Storages whose trials name their worker from the instant they start running.

A trial that is ``RUNNING`` in the study but names no worker cannot be told apart from one a
live worker is still setting up, so a worker killed right after taking a trial (before Optuna's
first heartbeat, or before it tagged the trial) would leave it running forever, and every
worker waiting on it would wait forever. Here the worker's ``host:pid`` (:func:`worker_id`) is
written with the trial itself: a new trial is created with it (one transaction, or one journal
record), and a queued (``WAITING``) trial is started and tagged in one transaction. The
journal, which has no transactions, tags a started queued trial right after taking it; the
engine fails a running trial that names no worker after a grace period
(:data:`promptsearch.engine.ORPHAN_SECONDS`).

Taking a queued trial is also atomic on every database: Optuna starts it with
``SELECT ... FOR UPDATE`` and then an update, and SQLite ignores ``FOR UPDATE``, so two
processes could both read ``WAITING`` and both start it. Here the start is one conditional
``UPDATE ... WHERE state = 'WAITING'``: the second process changes no row and takes another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from optuna.storages import JournalStorage, RDBStorage
from optuna.trial import FrozenTrial, TrialState

from promptsearch.study._codec import Attr
from promptsearch.study._optuna import rdb_models, rdb_session, set_trial_attr_in_session, start_column
from promptsearch.study._publish import worker_id

__all__ = ["OwnedJournalStorage", "OwnedRDBStorage"]


def _template() -> FrozenTrial:
    """A new running trial that names this worker."""
    return FrozenTrial(
        number=-1,
        state=TrialState.RUNNING,
        value=None,
        values=None,
        datetime_start=datetime.now(),
        datetime_complete=None,
        params={},
        distributions={},
        user_attrs={Attr.WORKER: worker_id()},
        system_attrs={},
        intermediate_values={},
        trial_id=-1,
    )


class OwnedRDBStorage(RDBStorage):
    """An Optuna ``RDBStorage`` whose running trials always name their worker."""

    def _create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> FrozenTrial:
        # Optuna's cached storage calls this private method, the public one too.
        return super()._create_new_trial(study_id, template_trial or _template())

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        if state != TrialState.RUNNING or values is not None:
            return bool(super().set_trial_state_values(trial_id, state, values))
        trial = rdb_models().TrialModel
        column, now = start_column()
        started: dict[Any, Any] = {trial.state: TrialState.RUNNING, column: now}
        with rdb_session(self) as session:
            changed: Any = (
                session.query(trial)
                .filter(trial.trial_id == trial_id, trial.state == TrialState.WAITING)
                .update(started, synchronize_session=False)
            )
            if int(changed) != 1:
                return False
            # In the same transaction: a retried trial still names the dead worker it copies.
            set_trial_attr_in_session(self, session, trial_id, Attr.WORKER, worker_id())
        return True


class OwnedJournalStorage(JournalStorage):
    """An Optuna ``JournalStorage`` whose running trials name their worker (a started queued
    trial right after it is taken: a journal has no transactions)."""

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        return int(super().create_new_trial(study_id, template_trial or _template()))

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        started = bool(super().set_trial_state_values(trial_id, state, values))
        if started and state == TrialState.RUNNING:
            self.set_trial_user_attr(trial_id, Attr.WORKER, worker_id())
        return started

"""SQLite under many workers: one queued trial starts in one process only.

Optuna starts a queued (``WAITING``) trial with ``SELECT ... FOR UPDATE`` and then an update;
SQLite ignores ``FOR UPDATE``, so two processes can both read ``WAITING`` and both start the
same trial (one later fails with "Cannot tell a COMPLETE trial", or the prompt is scored
twice). Here the start is one conditional ``UPDATE ... WHERE state = 'WAITING'``, which
SQLite applies atomically: the second process changes no row and takes another trial.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from optuna.storages import RDBStorage
from optuna.trial import TrialState

__all__ = ["SQLiteStorage"]


class SQLiteStorage(RDBStorage):
    """An Optuna ``RDBStorage`` whose trials leave the queue atomically on SQLite."""

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        if state != TrialState.RUNNING or values is not None:
            return bool(super().set_trial_state_values(trial_id, state, values))
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        trial = models.TrialModel
        column = getattr(trial, "_datetime_start_utc", None)
        if column is not None:  # Optuna >= 4.6 stores naive UTC behind a property
            now = datetime.now(timezone.utc).replace(tzinfo=None)
        else:
            column, now = trial.datetime_start, datetime.now()
        started: dict[Any, Any] = {trial.state: TrialState.RUNNING, column: now}
        with _create_scoped_session(self.scoped_session) as session:
            changed: Any = (
                session.query(trial)
                .filter(trial.trial_id == trial_id, trial.state == TrialState.WAITING)
                .update(started, synchronize_session=False)
            )
        return int(changed) == 1

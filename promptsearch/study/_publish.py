"""First writer wins: what every worker of a study must agree on is published once.

Generation pools, the label-word candidates, the tuning bases and the worker that finalizes
are decided by whichever worker gets there first; the others read what it stored. The
guarantee comes from the storage, not from timing:

* relational databases (SQLite, PostgreSQL, ...): an ``INSERT`` into Optuna's study user
  attributes, whose ``(study_id, key)`` unique constraint refuses the second writer;
* journal files: an exclusive lock file next to the journal, held while checking and writing;
* in-memory studies: a lock of this process.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from promptsearch.study._optuna import journal_file, rdb_models, study_id, study_storage

if TYPE_CHECKING:
    import optuna

__all__ = ["publish_once", "worker_id"]

_logger = logging.getLogger(__name__)
_LOCAL = threading.Lock()


def worker_id() -> str:
    """``host:pid`` of this process, recorded in the trials it runs and the claims it wins."""
    return f"{socket.gethostname()}:{os.getpid()}"


def publish_once(study: optuna.Study, key: str, value: Any) -> Any:
    """Store ``value`` as the study user attribute ``key`` unless one is stored; return the stored one.

    Example:
        >>> chosen = publish_once(study, "pool_g1", json.dumps(pool))  # doctest: +SKIP
        >>> chosen == json.dumps(pool)  # True only for the first worker  # doctest: +SKIP
    """
    from optuna.storages import RDBStorage

    storage = study_storage(study)
    journal = journal_file(storage)
    if isinstance(storage, RDBStorage):
        _insert_rdb(storage, study_id(study), key, value)
    elif journal is not None:
        _insert_journal(study, journal, key, value)
    else:
        with _LOCAL:
            if key not in study.user_attrs:
                study.set_user_attr(key, value)
    return study.user_attrs[key]


def _insert_rdb(storage: Any, study_id: int, key: str, value: Any) -> None:
    from sqlalchemy.exc import IntegrityError

    session = storage.scoped_session()
    try:
        session.add(
            rdb_models().StudyUserAttributeModel(study_id=study_id, key=key, value_json=json.dumps(value))
        )
        session.commit()
    except IntegrityError:  # another worker published first: keep theirs
        session.rollback()
        _logger.debug("%s was published by another worker.", key)
    finally:
        session.close()


def _insert_journal(study: optuna.Study, path: str, key: str, value: Any) -> None:
    from optuna.storages.journal import JournalFileOpenLock

    lock = JournalFileOpenLock(path + ".publish")
    if not lock.acquire():
        raise RuntimeError(f"Could not lock {path}.publish to publish {key!r}.")
    try:
        if key not in study.user_attrs:  # the journal is replayed before reading
            study.set_user_attr(key, value)
    finally:
        lock.release()

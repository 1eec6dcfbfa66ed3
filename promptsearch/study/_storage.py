"""Optuna storages: any RDB URL (SQLite by default) or a journal file, with heartbeats.

A storage URL is checked before use (its scheme, its driver, the server) and shown in every
message through :func:`mask_url`, so that a password never reaches a log, a report or an export.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from promptsearch.exceptions import ConfigError

__all__ = ["check_storage", "is_storage_url", "make_storage", "mask_url", "open_storage", "with_retries"]

_logger = logging.getLogger(__name__)

# The password of scheme://user:password@host, parsed as SQLAlchemy does (up to the first "@").
_PASSWORD = re.compile(r"^([A-Za-z][\w+.-]*://[^:/@]*):[^@]*@")
_QUERY_SECRET = re.compile(r"([?&](?:password|passwd|pwd)=)[^&]*", re.IGNORECASE)
_EXAMPLES = "sqlite:///runs/study.db, postgresql+psycopg2://user:password@host/db or journal:runs/study.log"
# SQLAlchemy driver -> the package that provides it.
_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "psycopg[binary]",
    "pg8000": "pg8000",
    "asyncpg": "asyncpg",
    "pymysql": "PyMySQL",
    "mysqldb": "mysqlclient",
    "mysqlconnector": "mysql-connector-python",
    "mariadbconnector": "mariadb",
    "oracledb": "oracledb",
    "cx_oracle": "cx_Oracle",
    "pyodbc": "pyodbc",
    "pymssql": "pymssql",
}
# Driver -> its connection timeout argument: a server that does not answer fails in seconds.
_TIMEOUT_ARGS = {
    "psycopg2": "connect_timeout",
    "psycopg": "connect_timeout",
    "pymysql": "connect_timeout",
    "mysqldb": "connect_timeout",
    "pg8000": "timeout",
}
_CONNECT_TIMEOUT_S = 10


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``, for messages, logs and reports.

    Example:
        >>> mask_url("postgresql://user:secret@localhost/db")
        'postgresql://user:***@localhost/db'
        >>> mask_url("sqlite:///runs/study.db")
        'sqlite:///runs/study.db'
    """
    return _QUERY_SECRET.sub(r"\1***", _PASSWORD.sub(r"\1:***@", url))


def make_storage(url: str | None) -> Any:
    """Return an Optuna storage: any RDB URL, or a journal file (``None``: Optuna's in-memory
    storage; the default file of a run is decided by ``engine.run_storage``).

    RDB storages get a heartbeat, so a trial whose worker was killed is marked failed and
    retried (with the same parameters) by the next worker or run.

    Raises:
        ConfigError: for an unknown scheme, a missing database driver (the message names the
            package to install), a server that cannot be reached, or a folder that cannot be
            created. Messages show the URL without its password.
    """
    if url is None:
        return None  # in-memory
    if _is_journal(url):
        return _journal_storage(url)
    if "://" not in url:
        raise ConfigError(f"Storage {mask_url(url)!r} is not an Optuna storage URL; use e.g. {_EXAMPLES}.")
    driver = _check_driver(url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        _make_folder(path.parent, f"the folder of storage {mask_url(url)!r}")
        _check_writable(path, url)
    return _rdb_storage(url, driver)


def _check_writable(path: Path, url: str) -> None:
    """Fail now, not after the model has loaded, when the SQLite file cannot be written.

    A write is tried in a transaction that is rolled back (root passes permission checks, so
    only a real write tells a read-only file system or file apart).
    """
    import sqlite3

    if path.is_dir():
        return  # the storage's own error names it
    try:
        con = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("CREATE TABLE promptsearch_write_probe (x INTEGER)")
            con.execute("ROLLBACK")
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return  # another worker is writing: it is writable
        raise ConfigError(
            f"Storage {mask_url(url)!r} cannot be written ({exc}): the database or its folder is "
            "read-only. Give a writable --out or --storage (to resume, copy the database somewhere "
            "writable first)."
        ) from None


def check_storage(url: str) -> None:
    """Check that the storage at ``url`` can be opened, creating nothing (no file, no table).

    Cheap enough to run before any model is loaded: the scheme and driver are checked, a file's
    folder must be creatable, and a database server must accept a connection (within
    ``_CONNECT_TIMEOUT_S`` seconds).

    Raises:
        ConfigError: as :func:`make_storage` would, with the URL's password masked.
    """
    if _is_journal(url):
        _check_folder(
            Path(url.removeprefix("journal:")).parent, f"the folder of journal storage {mask_url(url)!r}"
        )
        return
    if "://" not in url:
        raise ConfigError(f"Storage {mask_url(url)!r} is not an Optuna storage URL; use e.g. {_EXAMPLES}.")
    driver = _check_driver(url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        _check_folder(path.parent, f"the folder of storage {mask_url(url)!r}")
        if path.is_dir():
            raise ConfigError(
                f"Storage {mask_url(url)!r} names a folder; give a database file, e.g. {path / 'study.db'}."
            )
    elif url.startswith("sqlite") and url != "sqlite://":
        raise ConfigError(
            f"Storage {mask_url(url)!r} is not a SQLite URL; write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (three or four slashes)."
        )
    elif not url.startswith("sqlite"):
        _check_server(url, driver)


def _check_folder(folder: Path, what: str) -> None:
    """The first existing folder on the way to ``folder`` must be a writable folder."""
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise ConfigError(
                    f"Cannot create {what} ({str(existing)!r} is a file); choose a path in a folder you can "
                    "write to."
                )
            if not os.access(existing, os.W_OK | os.X_OK):
                raise ConfigError(
                    f"Cannot create {what} ({str(existing)!r} is not writable); choose another path."
                )
            return


def _check_server(url: str, driver: str) -> None:
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        engine = sqlalchemy.create_engine(url, **(_engine_kwargs(url, driver) or {}))
    except (ArgumentError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"Storage {mask_url(url)!r} is not a valid database URL ({_reason(exc, url)}); use e.g. "
            f"{_EXAMPLES}."
        ) from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        raise ConfigError(_unreachable(url, exc)) from None
    finally:
        engine.dispose()


def _unreachable(url: str, exc: BaseException) -> str:
    hint = (
        "Check that the path names a SQLite file you can write to"
        if url.startswith("sqlite")
        else "Check that the database server is running and reachable from here, and the user, password "
        "and database name (or leave out --storage for a SQLite file in the output folder)"
    )
    return f"Cannot open storage {mask_url(url)!r}: {_reason(exc, url)}. {hint}."


def _is_journal(url: str) -> bool:
    return url.startswith("journal:") or url.endswith((".log", ".journal"))


def _make_folder(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{str(blocker)!r} is a file" if blocker else f"{exc.strerror}: {str(exc.filename)!r}"
        raise ConfigError(
            f"Cannot create {what} ({reason}); choose a path in a folder you can write to."
        ) from None


def _journal_storage(url: str) -> Any:
    from optuna.storages.journal import JournalFileBackend

    from promptsearch.study._owned import OwnedJournalStorage

    path = url.removeprefix("journal:")
    _make_folder(Path(path).parent, f"the folder of journal storage {mask_url(url)!r}")
    try:
        return OwnedJournalStorage(JournalFileBackend(path))
    except OSError as exc:
        raise ConfigError(
            f"Cannot open journal storage {mask_url(url)!r} ({exc.strerror}); choose a file you can write to."
        ) from None


def _check_driver(url: str) -> str:
    """Check that SQLAlchemy knows the URL's scheme and that its driver is installed; return it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    masked = mask_url(url)
    try:
        parsed = make_url(url)
        dialect: Any = parsed.get_dialect()
    except NoSuchModuleError:
        scheme = url.split("://", 1)[0]
        raise ConfigError(
            f"Storage {masked!r} has the unknown scheme {scheme!r}; use e.g. {_EXAMPLES}."
        ) from None
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"Storage {masked!r} is not a valid database URL ({exc}); use e.g. {_EXAMPLES}."
        ) from None
    driver = str(dialect.driver)
    importer = getattr(dialect, "import_dbapi", None) or dialect.dbapi
    try:
        importer()
    except ImportError as exc:
        package = _DRIVER_PACKAGES.get(driver.lower(), driver)
        raise ConfigError(
            f"Storage {masked!r} needs the database driver {driver!r}, which is not installed ({exc}). "
            f"Install it with: pip install '{package}'"
            + (
                " (a plain postgresql:// uses psycopg 3 with this SQLAlchemy; write postgresql+psycopg2:// "
                "to use psycopg2-binary instead)."
                if driver == "psycopg" and parsed.drivername == "postgresql"
                else "."
            )
        ) from None
    return driver


def _engine_kwargs(url: str, driver: str) -> dict[str, Any] | None:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    arg = _TIMEOUT_ARGS.get(driver.lower())
    if arg is None or f"{arg}=" in url:
        return None
    return {"connect_args": {arg: _CONNECT_TIMEOUT_S}}


def _rdb_storage(url: str, driver: str) -> Any:
    import warnings

    import optuna
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from promptsearch.study._owned import OwnedRDBStorage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry: Any = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        kwargs: dict[str, Any] = {"heartbeat_interval": 30, "grace_period": 120}
        if retry is not None:
            kwargs["heartbeat_stale_trial_callback"] = retry(max_retry=2)
        else:  # Optuna < 4.9
            kwargs["failed_trial_callback"] = optuna.storages.RetryFailedTrialCallback(max_retry=2)
        try:
            engine_kwargs = _engine_kwargs(url, driver)
            return with_retries(lambda: OwnedRDBStorage(url, engine_kwargs=engine_kwargs, **kwargs))
        except ArgumentError as exc:
            raise ConfigError(
                f"Storage {mask_url(url)!r} is not a valid database URL ({_reason(exc, url)}); use e.g. "
                f"{_EXAMPLES}."
            ) from None
        except SQLAlchemyError as exc:
            raise ConfigError(_unreachable(url, exc)) from None


def with_retries(make: Any, attempts: int = 5) -> Any:
    """Call ``make()``, retrying when another process is creating the same tables.

    Several workers starting on one new database race to create Optuna's tables; the losers
    see a unique-constraint or "already exists" error, and succeed once the winner is done.
    """
    import time

    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(attempts):
        try:
            return make()
        except (IntegrityError, OperationalError, ProgrammingError) as exc:
            racing = isinstance(exc, IntegrityError) or "already exists" in str(exc) or "locked" in str(exc)
            if not racing or attempt == attempts - 1:
                raise
            _logger.debug("Storage tables being created by another process (%s); retrying.", exc)
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _reason(exc: BaseException, url: str) -> str:
    """The first line of the driver's message, without the URL's password."""
    from sqlalchemy.engine import make_url

    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    text = lines[0] if lines else type(original).__name__
    password = make_url(url).password
    if password:
        text = text.replace(str(password), "***")
    return mask_url(text.rstrip("."))


def is_storage_url(text: str) -> bool:
    """Whether ``text`` names an Optuna storage rather than a folder or file."""
    return "://" in text or text.startswith("journal:")


def open_storage(url: str) -> Any:
    """Open an existing storage for reading; never creates a database or folder.

    Raises:
        ConfigError: The SQLite or journal file does not exist, the URL is not a storage URL,
            or the database cannot be reached (see :func:`make_storage`).
    """
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ConfigError(
                f"No SQLite database at {str(path)!r} (from storage {mask_url(url)!r}); check the path "
                "(sqlite:///relative/path.db or sqlite:////absolute/path.db)."
            )
    elif _is_journal(url):
        path = Path(url.removeprefix("journal:"))
        if not path.is_file():
            raise ConfigError(
                f"No journal file at {str(path)!r} (from storage {mask_url(url)!r}); check the path."
            )
    return make_storage(url)

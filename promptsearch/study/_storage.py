"""Optuna storages: any RDB URL (SQLite by default) or a journal file, with heartbeats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptsearch.exceptions import ConfigError

__all__ = ["is_storage_url", "make_storage", "open_storage"]


def make_storage(url: str | None, out_dir: Path | None) -> Any:
    """Return an Optuna storage: any RDB URL (SQLite by default), or a journal file.

    RDB storages get a heartbeat, so a trial whose worker was killed is marked failed and
    retried (with the same parameters) by the next worker or run.
    """
    import warnings

    import optuna
    from optuna.storages import RDBStorage

    if url is None:
        if out_dir is None:
            return None  # in-memory
        out_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(out_dir / 'study.db').resolve()}"
    if url.startswith("journal:") or url.endswith((".log", ".journal")):
        path = url.removeprefix("journal:")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(path))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if "://" not in url:
        raise ConfigError(
            f"Storage {url!r} is not an Optuna storage URL; use e.g. sqlite:///runs/study.db, "
            "postgresql://user@host/db or journal:runs/study.log."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry: Any = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        kwargs: dict[str, Any] = {"heartbeat_interval": 30, "grace_period": 120}
        if retry is not None:
            kwargs["heartbeat_stale_trial_callback"] = retry(max_retry=2)
        else:  # Optuna < 4.9
            kwargs["failed_trial_callback"] = optuna.storages.RetryFailedTrialCallback(max_retry=2)
        return RDBStorage(
            url,
            engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None,
            **kwargs,
        )


def is_storage_url(text: str) -> bool:
    """Whether ``text`` names an Optuna storage rather than a folder or file."""
    return "://" in text or text.startswith("journal:")


def open_storage(url: str) -> Any:
    """Open an existing storage for reading; never creates a database or folder.

    Raises:
        ConfigError: The SQLite or journal file does not exist, or the URL is not a storage URL.
    """
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ConfigError(
                f"No SQLite database at {str(path)!r} (from storage {url!r}); check the path "
                "(sqlite:///relative/path.db or sqlite:////absolute/path.db)."
            )
    elif url.startswith("journal:") or url.endswith((".log", ".journal")):
        path = Path(url.removeprefix("journal:"))
        if not path.is_file():
            raise ConfigError(f"No journal file at {str(path)!r} (from storage {url!r}); check the path.")
    return make_storage(url, None)

"""Storages: URLs checked before use (scheme, driver, server), passwords never shown."""

from __future__ import annotations

import importlib.util
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
import sqlalchemy.exc

from promptsearch.exceptions import ConfigError
from promptsearch.study import _owned, _storage, make_storage, open_storage
from promptsearch.study._storage import check_storage, mask_url

SECRET = "pa55word"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"postgresql://user:{SECRET}@host:5432/db", "postgresql://user:***@host:5432/db"),
        (f"postgresql+psycopg2://u:{SECRET}@127.0.0.1:1/db", "postgresql+psycopg2://u:***@127.0.0.1:1/db"),
        (f"mysql+pymysql://:{SECRET}@host/db", "mysql+pymysql://:***@host/db"),
        (f"mysql://u@host/db?password={SECRET}&charset=utf8", "mysql://u@host/db?password=***&charset=utf8"),
        ("postgresql://user@host:5432/db", "postgresql://user@host:5432/db"),
        ("postgresql://host:5432/db", "postgresql://host:5432/db"),
        ("sqlite:///runs/study.db", "sqlite:///runs/study.db"),
        ("journal:runs/study.log", "journal:runs/study.log"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert SECRET not in mask_url(url)


def test_sqlite_and_journal_storages_open(tmp_path: Path) -> None:
    rdb = make_storage(f"sqlite:///{tmp_path / 'new' / 'study.db'}")
    optuna.create_study(storage=rdb, study_name="s")
    assert (tmp_path / "new" / "study.db").is_file()
    assert optuna.study.get_all_study_names(
        storage=open_storage(f"sqlite:///{tmp_path / 'new' / 'study.db'}")
    ) == ["s"]
    journal = make_storage(f"journal:{tmp_path / 'j' / 'study.log'}")
    optuna.create_study(storage=journal, study_name="j")
    assert (tmp_path / "j" / "study.log").is_file()
    default = make_storage(f"sqlite:///{tmp_path / 'run' / 'study.db'}")
    assert isinstance(default, optuna.storages.RDBStorage) and (tmp_path / "run" / "study.db").is_file()
    assert make_storage(None) is None


def test_sqlite_queued_trial_starts_in_one_worker_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first, second = make_storage(url), make_storage(url)
    study = optuna.create_study(storage=first, study_name="s")
    study.enqueue_trial({"x": 1})
    trial_id = study.get_trials(deepcopy=False)[0]._trial_id
    running = optuna.trial.TrialState.RUNNING
    assert first.set_trial_state_values(trial_id, running) is True
    assert second.set_trial_state_values(trial_id, running) is False  # already taken
    started = second.get_trial(trial_id).datetime_start
    assert started is not None and abs((started - datetime.now()).total_seconds()) < 60
    # The next worker's trial is a new one, and the finished trial is stored as usual.
    assert first.set_trial_state_values(trial_id, optuna.trial.TrialState.COMPLETE, [0.5]) is True
    assert second.get_trial(trial_id).value == 0.5


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("foo://", "unknown scheme 'foo'"),
        ("study.db", "is not an Optuna storage URL"),
        (f"postgresql://u:{SECRET}@host:notaport/db", "is not a valid database URL"),
        ("sqlite://relative.db", "is not a valid database URL"),
    ],
)
def test_bad_urls_are_config_errors(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        make_storage(url)
    assert SECRET not in str(info.value)
    assert "sqlite:///runs/study.db" in str(info.value) or "Optuna storage URL" in str(info.value)


@pytest.mark.parametrize(
    ("url", "module", "package"),
    [
        (f"postgresql+psycopg2://u:{SECRET}@127.0.0.1:1/db", "psycopg2", "pip install 'psycopg2-binary'"),
        (f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/db", "psycopg", "pip install 'psycopg[binary]'"),
        (f"mysql+pymysql://u:{SECRET}@127.0.0.1:1/db", "pymysql", "pip install 'PyMySQL'"),
    ],
)
def test_missing_driver_names_the_package(url: str, module: str, package: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        make_storage(url)
    message = str(info.value)
    assert package in message and f"driver {module!r}" in message
    assert SECRET not in message and mask_url(url) in message
    assert time.perf_counter() - started < 5


def test_plain_postgresql_url_names_the_default_driver() -> None:
    from sqlalchemy.engine import make_url

    driver = make_url("postgresql://u@h/db").get_dialect().driver
    if importlib.util.find_spec(driver) is not None:
        pytest.skip(f"{driver} is installed here")
    with pytest.raises(ConfigError) as info:
        make_storage(f"postgresql://u:{SECRET}@127.0.0.1:1/db")
    expected = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary"}[driver]
    assert f"pip install '{expected}'" in str(info.value)
    assert SECRET not in str(info.value)


def test_unreachable_server_is_a_config_error_without_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Refusing:
        def __init__(self, url: str, engine_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            seen.update(url=url, engine_kwargs=engine_kwargs)
            reason = Exception(
                f'connection to server at "127.0.0.1", port 1 failed (password {SECRET}): '
                "Connection refused\n"
                "\tIs the server running on that host and accepting TCP/IP connections?"
            )
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, reason)

    monkeypatch.setattr(_owned, "OwnedRDBStorage", Refusing)
    monkeypatch.setattr(_storage, "_check_driver", lambda url: "psycopg2")
    url = f"postgresql+psycopg2://u:{SECRET}@127.0.0.1:1/db"
    with pytest.raises(ConfigError) as info:
        make_storage(url)
    message = str(info.value)
    assert "Cannot open storage 'postgresql+psycopg2://u:***@127.0.0.1:1/db'" in message
    assert "Connection refused" in message and "server is running" in message
    assert SECRET not in message and "\n" not in message
    assert seen["engine_kwargs"] == {"connect_args": {"connect_timeout": _storage._CONNECT_TIMEOUT_S}}
    # A timeout given in the URL is left alone.
    with pytest.raises(ConfigError):
        make_storage(url + "?connect_timeout=3")
    assert seen["engine_kwargs"] is None


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is None, reason="psycopg2 is not installed")
def test_no_server_fails_fast_with_a_real_driver() -> None:
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="Cannot open storage") as info:
        make_storage(f"postgresql+psycopg2://u:{SECRET}@127.0.0.1:1/db")
    assert SECRET not in str(info.value)
    assert time.perf_counter() - started < 15


def test_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()  # a folder where the database file should be
    with pytest.raises(ConfigError, match=r"Cannot open storage .*SQLite file you can write to"):
        make_storage(f"sqlite:///{tmp_path / 'db'}")


def test_folders_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "data.csv"
    blocker.write_text("a,b\n")
    for url in (f"sqlite:///{blocker}/study.db", f"journal:{blocker}/study.log"):
        with pytest.raises(ConfigError, match=r"data\.csv' is a file\); choose a path"):
            make_storage(url)
    assert blocker.read_text() == "a,b\n"


def test_open_storage_never_creates(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No SQLite database at"):
        open_storage(f"sqlite:///{tmp_path / 'absent.db'}")
    with pytest.raises(ConfigError, match="No journal file at"):
        open_storage(f"journal:{tmp_path / 'absent.log'}")
    assert list(tmp_path.iterdir()) == []


def test_check_storage_creates_nothing(tmp_path: Path) -> None:
    check_storage(f"sqlite:///{tmp_path / 'new' / 'study.db'}")
    check_storage(f"journal:{tmp_path / 'new' / 'study.log'}")
    check_storage("sqlite://")  # in memory
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("sqlite:///{blocker}/study.db", "data.csv' is a file"),
        ("journal:{blocker}/study.log", "data.csv' is a file"),
        ("sqlite:///{tmp}", "names a folder; give a database file"),
        ("sqlite://runs/study.db", "is not a SQLite URL"),
        ("foo://", "unknown scheme 'foo'"),
        ("study.db", "is not an Optuna storage URL"),
    ],
)
def test_check_storage_refuses(tmp_path: Path, name: str, fragment: str) -> None:
    blocker = tmp_path / "data.csv"
    blocker.write_text("a,b\n")
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        check_storage(name.format(blocker=blocker, tmp=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_check_storage_connects_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    engines: list[Any] = []

    class Engine:
        def __init__(self, url: str, **kwargs: Any) -> None:
            self.kwargs, self.disposed = kwargs, False
            engines.append(self)

        def connect(self) -> Any:
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(f"password {SECRET} refused"))

        def dispose(self) -> None:
            self.disposed = True

    monkeypatch.setattr(_storage, "_check_driver", lambda url: "pymysql")
    monkeypatch.setattr(sqlalchemy, "create_engine", Engine)
    with pytest.raises(ConfigError, match="server is running") as info:
        check_storage(f"mysql+pymysql://u:{SECRET}@127.0.0.1:1/db")
    assert SECRET not in str(info.value) and "mysql+pymysql://u:***@127.0.0.1:1/db" in str(info.value)
    [engine] = engines
    assert engine.disposed and engine.kwargs == {
        "connect_args": {"connect_timeout": _storage._CONNECT_TIMEOUT_S}
    }


@pytest.fixture()
def read_only_folder(tmp_path: Path) -> Any:
    """A folder holding a study database, mounted read-only (root passes permission bits, so a
    read-only file system is the way to get "attempt to write a readonly database")."""
    import subprocess

    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    make_storage(f"sqlite:///{src / 'study.db'}")  # an existing study database
    mounted = subprocess.run(["mount", "--bind", str(src), str(ro)], capture_output=True).returncode == 0
    if mounted:
        mounted = (
            subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True).returncode == 0
        )
        if not mounted:
            subprocess.run(["umount", str(ro)], capture_output=True)
    if not mounted:
        pytest.skip("cannot mount a read-only folder here (needs root in a mount namespace)")
    try:
        yield ro
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


def test_a_read_only_study_database_fails_before_any_work(read_only_folder: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"cannot be written \(attempt to write a readonly database\).*--out"
    ):
        make_storage(f"sqlite:///{read_only_folder / 'study.db'}")
    with pytest.raises(ConfigError, match="read-only"):
        make_storage(f"sqlite:///{read_only_folder / 'study.db'}")

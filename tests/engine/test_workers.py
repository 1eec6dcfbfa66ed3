"""Many workers on one study (SQLite, a journal file, PostgreSQL when available), kill -9 and
SIGTERM: exactly the budget, no worker crash, no lost trial, nothing computed twice, one
leaderboard."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from promptsearch.scoring import request_key
from tests.engine import workers as w

POSTGRES = os.environ.get("PROMPTSEARCH_TEST_POSTGRES")


def _storages(tmp: Path) -> list[str]:
    urls = [f"sqlite:///{tmp}/study.db", f"journal:{tmp}/study.log"]
    return urls + ([POSTGRES] if POSTGRES else [])


@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgresql"])
def test_three_workers_share_one_study(kind: str, tmp_path: Path) -> None:
    if kind == "postgresql" and not POSTGRES:
        pytest.skip("set PROMPTSEARCH_TEST_POSTGRES to a PostgreSQL URL (.ci/run starts one)")
    storage = {"sqlite": f"sqlite:///{tmp_path}/study.db", "journal": f"journal:{tmp_path}/study.log"}.get(
        kind, POSTGRES or ""
    )
    if kind == "postgresql":
        _reset_postgres(storage)
    ledger = tmp_path / "ledger.jsonl"
    space = w.write_inputs(tmp_path, trials=12, ledger=ledger)
    w.create(storage)  # the database's tables are made once, before the workers start
    procs = [w.start(w.command(space, storage, tmp_path / f"out{i}")) for i in range(3)]
    results = w.finish(procs)
    for code, _, stderr in results:
        assert code == 0, stderr[-2000:]
    study = w.open_study(storage)
    assert len(w.finished(study)) == 12  # exactly the budget over all workers
    assert all(t.state.name != "RUNNING" for t in study.trials)
    assert all(t.state.name != "FAIL" or t.user_attrs.get("surplus") for t in study.trials)
    boards = [(tmp_path / f"out{i}" / "leaderboard.md").read_text().split("\n", 3)[3] for i in range(3)]
    assert boards[0] == boards[1] == boards[2]  # one leaderboard, made once
    assert sum(1 for k in study.user_attrs if k.startswith("finalizer:")) == 1
    lines = Counter(ledger.read_text().splitlines())
    assert max(lines.values()) == 1  # no (prompt, example) scored twice, across workers


def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    space = w.write_inputs(tmp_path / "killed", trials=10, latency=0.15, ledger=ledger)
    storage = f"sqlite:///{tmp_path}/killed/study.db"
    proc = w.start(w.command(space, storage, tmp_path / "killed" / "out"))
    study = w.wait_for(
        storage, lambda s: len(w.finished(s)) >= 3 and any(t.state.name == "RUNNING" for t in s.trials)
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = _cached_requests(Path(f"{tmp_path}/killed/study.db.scores.sqlite"))  # when it died
    scored = [request_key(json.loads(line)[2]) for line in ledger.read_text().splitlines()]
    before = {t.number: t.value for t in w.open_study(storage).trials if t.state.name == "COMPLETE"}
    killed = [t.number for t in w.open_study(storage).trials if t.state.name == "RUNNING"]
    assert killed and study is not None
    ((code, _, stderr),) = w.finish([w.start(w.command(space, storage, tmp_path / "killed" / "out"))])
    assert code == 0, stderr[-2000:]
    after = w.open_study(storage)
    assert all(after.trials[n].value == v for n, v in before.items())  # no completed trial lost
    assert all(after.trials[n].state.name == "FAIL" for n in killed)  # the killed trial failed ...
    retried = [t for t in after.trials if t.system_attrs.get("failed_trial") in killed]
    assert retried and all(t.state.name in ("COMPLETE", "PRUNED") for t in retried)  # ... and was retried
    for t in retried:  # the retry keeps every choice the killed trial had made
        failed = after.trials[t.system_attrs["failed_trial"]].params
        assert {k: t.params[k] for k in failed} == failed
    assert len(w.finished(after)) == 10
    # A kill lands at any instant, also between a batch's scoring and its commit to the cache:
    # only requests the killed worker had not saved may be scored again, never a saved one.
    rescored = [request_key(json.loads(line)[2]) for line in ledger.read_text().splitlines()[len(scored) :]]
    assert len(set(scored)) == len(scored) and len(set(rescored)) == len(rescored)
    assert set(scored) & saved and not set(scored) & set(rescored) & saved
    plain = w.write_inputs(tmp_path / "plain", trials=10, latency=0.0)
    ((code, _, stderr),) = w.finish(
        [w.start(w.command(plain, f"sqlite:///{tmp_path}/plain/study.db", tmp_path / "plain" / "out"))]
    )
    assert code == 0, stderr[-2000:]
    got = json.loads((tmp_path / "killed" / "out" / "leaderboard.json").read_text())["rows"]
    want = json.loads((tmp_path / "plain" / "out" / "leaderboard.json").read_text())["rows"]
    assert [(r["prompt_id"], r["dev_score"], r["test_metrics"]) for r in got] == [
        (r["prompt_id"], r["dev_score"], r["test_metrics"]) for r in want
    ]


def test_sigterm_stops_after_the_current_trial_and_says_how_to_resume(tmp_path: Path) -> None:
    space = w.write_inputs(tmp_path, trials=12, latency=0.1)
    storage = f"sqlite:///{tmp_path}/study.db"
    proc = w.start(w.command(space, storage, tmp_path / "out"))
    w.wait_for(storage, lambda s: len(w.finished(s)) >= 2)
    proc.send_signal(signal.SIGTERM)
    ((code, _, stderr),) = w.finish([proc])
    assert code != 0 and "run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    study = w.open_study(storage)
    assert all(t.state.name != "RUNNING" for t in study.trials)  # the current trial was finished
    assert 2 <= len(w.finished(study)) < 12
    ((code, _, stderr),) = w.finish([w.start(w.command(space, storage, tmp_path / "out"))])
    assert code == 0, stderr[-2000:]
    assert len(w.finished(w.open_study(storage))) == 12


def _cached_requests(path: Path) -> set[str]:
    """Request keys whose scores a score-cache file holds (committed rows only)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {key for (key,) in conn.execute("SELECT example FROM scores WHERE prompt = 'requests'")}


def _reset_postgres(url: str) -> None:
    """Delete the test's study and empty the score cache's tables (a database kept between runs)."""
    import optuna
    import sqlalchemy as sa

    from promptsearch.study import make_storage

    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name="shared", storage=make_storage(url))
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in ("promptsearch_scores", "promptsearch_texts"):
                if sa.inspect(conn).has_table(table):
                    conn.execute(sa.text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()

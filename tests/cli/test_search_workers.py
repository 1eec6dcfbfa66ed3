"""``promptsearch search --workers N``: one command, N processes on one study, one leaderboard; a
worker's crash fails the command with its message; Ctrl-C and SIGTERM stop every worker and the
same command resumes. Also ``--threads``, the options the workers repeat, and exit status 130."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from promptsearch.cli import build_parser, main
from promptsearch.cli._search import _TrialBar, worker_options
from promptsearch.cli._workers import _SurplusFilter, threads_per_worker
from promptsearch.exceptions import SearchInterrupted
from tests.engine import workers as w

# Worker 2 of the command crashes on its third batch of requests (not a PromptSearchError: a bug).
_CRASH_WORKER_2 = """\
import os

if os.environ.get("PROMPTSEARCH_WORKER", "").startswith("2/"):
    from promptsearch.backends import _fake

    _record = _fake.FakeBackend._record
    _calls = [0]

    def _crash_later(self, kind, texts):
        _calls[0] += 1
        if _calls[0] > 2:
            raise RuntimeError("simulated crash of worker 2")
        return _record(self, kind, texts)

    _fake.FakeBackend._record = _crash_later
"""


def _storage(out: Path) -> str:
    return f"journal:{out}/study.log"


def _group_gone(pgid: int, timeout: float = 30) -> bool:
    """Whether every process of the group has exited (within ``timeout`` seconds)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_three_workers_one_command_one_leaderboard(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    space = w.write_inputs(tmp_path, trials=12, latency=0.05, ledger=ledger)
    out = tmp_path / "out"
    ((code, stdout, stderr),) = w.finish([w.start(w.search_command(space, out, "--workers", "3"))])
    assert code == 0, stderr[-3000:]
    assert stdout.count("# Leaderboard") == 1 and "Traceback" not in stderr
    study = w.open_study(_storage(out), "toy-toy-seed13")  # in OUT/study.db, as with one process
    assert len(w.finished(study)) == 12
    assert all(t.state.name != "FAIL" or t.user_attrs.get("surplus") for t in study.trials)
    assert len({t.user_attrs.get("worker") for t in w.finished(study)}) >= 2  # the work was shared
    assert max(Counter(ledger.read_text().splitlines()).values()) == 1  # nothing scored twice
    for k in (2, 3):
        log = out / "workers" / str(k) / "worker.log"
        assert log.is_file() and "Traceback" not in log.read_text()
        board = (out / "workers" / str(k) / "leaderboard.md").read_text().split("\n", 3)[3]
        assert board == (out / "leaderboard.md").read_text().split("\n", 3)[3]  # made once
    assert sum(1 for k in study.user_attrs if k.startswith("finalizer:")) == 1
    assert (out / "scores.sqlite").is_file()  # the cache of one process, shared by every worker


def test_a_crashing_worker_fails_the_command_with_its_message(tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(_CRASH_WORKER_2, encoding="utf-8")
    space = w.write_inputs(tmp_path, trials=40, latency=0.1)
    out = tmp_path / "out"
    proc = w.start(w.search_command(space, out, "--workers", "2"), pythonpath=hooks, new_session=True)
    ((code, stdout, stderr),) = w.finish([proc])
    assert code == 2, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("promptsearch search: error: Worker 2 (pid ")
    assert "RuntimeError: simulated crash of worker 2" in last and str(out / "workers" / "2") in last
    assert "# Leaderboard" not in stdout and "Traceback" not in stderr
    assert _group_gone(proc.pid)
    study = w.open_study(_storage(out), "toy-toy-seed13")
    assert len(w.finished(study)) < 40  # stopped early, not after doing the whole search alone


def test_a_worker_killed_by_a_signal_is_replaced_by_the_others(tmp_path: Path) -> None:
    space = w.write_inputs(tmp_path, trials=12, latency=0.1)
    out = tmp_path / "out"
    proc = w.start(w.search_command(space, out, "--workers", "2", "--study", "shared"), new_session=True)

    children: list[int] = []

    def child_running(study: Any) -> bool:  # a trial of worker 2 runs, after two finished ones
        workers = [str(t.user_attrs.get("worker", "")) for t in study.trials if t.state.name == "RUNNING"]
        children[:] = [int(x.rsplit(":", 1)[1]) for x in workers if x and not x.endswith(f":{proc.pid}")]
        return bool(children) and len(w.finished(study)) >= 2

    w.wait_for(_storage(out), child_running, name="shared")
    child = children[0]
    os.kill(child, signal.SIGKILL)
    ((code, stdout, stderr),) = w.finish([proc])
    assert code == 0, stderr[-3000:]
    assert stdout.count("# Leaderboard") == 1
    study = w.open_study(_storage(out))
    assert len(w.finished(study)) == 12 and all(t.state.name != "RUNNING" for t in study.trials)
    killed = [t for t in study.trials if str(t.user_attrs.get("worker", "")).endswith(f":{child}")]
    assert any(t.state.name == "FAIL" and not t.user_attrs.get("surplus") for t in killed)


def test_ctrl_c_stops_every_worker_and_the_same_command_resumes(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    space = w.write_inputs(tmp_path, trials=12, latency=0.1, ledger=ledger)
    out = tmp_path / "out"
    command = w.search_command(space, out, "--workers", "3", "--study", "shared")
    proc = w.start(command, new_session=True)  # a terminal's Ctrl-C reaches its process group
    w.wait_for(_storage(out), lambda s: len(w.finished(s)) >= 2)
    os.killpg(proc.pid, signal.SIGINT)
    ((code, _, stderr),) = w.finish([proc])
    assert code == 130, stderr[-3000:]
    assert "run the same command again to resume" in stderr and "Traceback" not in stderr
    assert _group_gone(proc.pid)  # no worker left behind
    study = w.open_study(_storage(out))
    assert all(t.state.name != "RUNNING" for t in study.trials)  # each finished its current trial
    assert len(w.finished(study)) < 12
    resume = w.search_command(space, out, "--workers", "2", "--study", "shared")  # fewer workers: fine
    ((code, stdout, stderr),) = w.finish([w.start(resume)])
    assert code == 0, stderr[-3000:]
    assert stdout.count("# Leaderboard") == 1
    assert len(w.finished(w.open_study(_storage(out)))) == 12
    assert max(Counter(ledger.read_text().splitlines()).values()) == 1


def test_sigterm_to_the_command_alone_reaches_its_workers(tmp_path: Path) -> None:
    space = w.write_inputs(tmp_path, trials=12, latency=0.1)
    out = tmp_path / "out"
    proc = w.start(w.search_command(space, out, "--workers", "2", "--study", "shared"), new_session=True)
    w.wait_for(_storage(out), lambda s: len(w.finished(s)) >= 2)
    proc.send_signal(signal.SIGTERM)
    ((code, _, stderr),) = w.finish([proc])
    assert code == 130, stderr[-3000:]
    assert "run the same command again to resume" in stderr
    assert _group_gone(proc.pid)
    assert all(t.state.name != "RUNNING" for t in w.open_study(_storage(out)).trials)


def test_threads_bound_torch_in_the_process() -> None:
    code = (
        "from promptsearch.cli._workers import set_threads; set_threads(1); "
        "import torch, os; print(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["1", "1"]
    assert threads_per_worker(4, cores=16) == 4 and threads_per_worker(4, cores=2) == 1
    assert threads_per_worker(1, cores=8) == 8


def test_workers_repeat_the_search_options_but_not_their_own() -> None:
    argv = [
        "search",
        "space.yaml",
        "--trials",
        "5",
        "--task",
        "reviews.csv",
        "--text-field",
        "review=text",
        "--text-field=-odd",  # a value that looks like an option
        "--model",
        "tiny-model",
        "--dtype",
        "float32",
        "--workers",
        "3",
        "--threads",
        "2",
        "--export",
        "best",
        "--out",
        "runs/x",
        "--storage",
        "sqlite:///x.db",
    ]
    args = build_parser().parse_args(argv)
    options = worker_options(args)
    assert options == [
        "--trials=5",
        "--task=reviews.csv",
        "--text-field=review=text",
        "--text-field=-odd",
        "--model=tiny-model",
        "--dtype=float32",
    ]
    again = build_parser().parse_args(["search", "space.yaml", *options])
    for dest in ("trials", "task", "text_field", "model", "dtype", "seed", "top", "batch_size"):
        assert getattr(again, dest) == getattr(args, dest)
    assert again.workers == 1 and again.export is None and again.storage is None


def test_stop_on_request_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptsearch.cli import _search

    def stopped(args: argparse.Namespace) -> int:
        raise SearchInterrupted("Search stopped after trial 3; run the same command again to resume.")

    monkeypatch.setattr(_search, "run", stopped)
    assert main(["-q", "search", "space.yaml"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == (
        "promptsearch search: stopped: Search stopped after trial 3; run the same command again to resume."
    )


class _Bar:
    def __init__(self) -> None:
        self.n = 0
        self.postfix: dict[str, Any] = {}

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = values

    def update(self, n: int) -> None:
        self.n += n

    def refresh(self) -> None:
        pass


def test_the_bar_counts_the_finished_trials_of_every_worker() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for value in (0.5, 0.7):
        study.add_trial(optuna.trial.create_trial(value=value))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    bar = _Bar()
    trial_bar = _TrialBar(bar, lambda: 7)
    trial_bar.refresh()
    assert bar.n == 0  # the study is known after this process's first trial
    trial_bar(study, study.trials[0])
    assert bar.n == 3 and bar.postfix == {"best": "0.700", "pruned": 1, "cache_hits": 7}
    study.add_trial(optuna.trial.create_trial(value=0.9))  # another worker's
    trial_bar.refresh()
    assert bar.n == 4 and bar.postfix["best"] == "0.900"


def test_surplus_trials_stay_out_of_the_log() -> None:
    import logging

    from promptsearch.engine._workers import SurplusTrial

    filt = _SurplusFilter()

    def record(message: str, error: BaseException | None = None) -> logging.LogRecord:
        info = (type(error), error, None) if error is not None else None
        return logging.LogRecord("optuna", logging.WARNING, __file__, 1, message, (), info)

    assert not filt.filter(record("Trial 12 failed with parameters: {}", SurplusTrial("full")))
    assert not filt.filter(record("Trial 12 failed with value None."))
    assert filt.filter(record("Trial 13 failed with value None."))
    assert filt.filter(record("Trial 14 failed with parameters: {}", RuntimeError("real")))

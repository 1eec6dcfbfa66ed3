"""Many workers on one study: step budgets, barriers, stale trials, stop requests.

Every worker runs the same schedule. A step (a generation, the tuning stage) owns a budget of
finished trials, counted in the study: a worker starts a trial only while the step is short of
it, and a trial that finds itself beyond the budget (another worker started one at the same
moment) ends at once as a failed ``surplus`` trial, so a step never finishes more trials than
its budget. A worker that has nothing left to start waits until the others' trials of the
step are finished: that is the barrier before the next generation, the tuning stage and the
final evaluation. A worker killed mid-trial leaves a RUNNING trial; it is failed and retried
with the same parameters, by Optuna's heartbeat (databases) or, on this machine, as soon as
its process is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from promptsearch.exceptions import PromptSearchError
from promptsearch.study import Attr, fail_running_trial, worker_id
from promptsearch.tuning import NO_TUNING

if TYPE_CHECKING:
    import optuna

    from promptsearch.engine._context import SearchContext

__all__ = [
    "ORPHAN_SECONDS",
    "POLL_SECONDS",
    "SurplusTrial",
    "await_twin",
    "claim_slot",
    "dead",
    "fail_stale",
    "run_budget",
    "stop_on_signals",
    "wait_idle",
    "worker_id",
]

_logger = logging.getLogger(__name__)

#: Seconds between looks at the study while waiting for other workers.
POLL_SECONDS = 1.0
#: Seconds after which a running trial that names no worker is taken for one whose worker died
#: as it took it (a worker names itself within milliseconds; see :func:`fail_stale`).
ORPHAN_SECONDS = 30.0
_FINISHED_OK = ("COMPLETE", "PRUNED")


class SurplusTrial(PromptSearchError):
    """A trial started beyond its step's budget (by a race between workers); it does nothing."""


def dead(worker: str) -> bool:
    """Whether ``worker`` (``host:pid``) is a process of this machine that no longer runs."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child not reaped yet is a zombie: dead all the same
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


def fail_stale(study: optuna.Study) -> int:
    """Fail and retry (same parameters) the running trials of dead workers; return how many.

    Databases with heartbeats also fail trials of workers on other machines after the grace
    period (Optuna's ``fail_stale_trials``). A running trial that names no worker after
    :data:`ORPHAN_SECONDS` was taken by a worker that died at once (see
    :mod:`promptsearch.study`: trials name their worker from the start) and is failed too.
    """
    import copy
    import warnings

    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=2)
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = trial.user_attrs.get(Attr.WORKER)
        if not (dead(worker) if isinstance(worker, str) else _orphan(trial)):
            continue
        if fail_running_trial(study, trial):  # (False: another worker failed it first)
            failed += 1
            _logger.warning(
                "Trial %d of a worker that died (%s) failed; it is retried.", trial.number, worker or "?"
            )
            # The retry is queued without the dead worker's name: whoever takes it writes its own.
            stale = copy.deepcopy(study.trials[trial.number])
            stale.user_attrs = {k: v for k, v in stale.user_attrs.items() if k != Attr.WORKER}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry(study, stale)
    return failed


def _orphan(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a running trial that names no worker has done so for :data:`ORPHAN_SECONDS`."""
    start = trial.datetime_start
    if start is None:
        return False
    return (datetime.now(start.tzinfo) - start).total_seconds() > ORPHAN_SECONDS


def claim_slot(trial: optuna.Trial, attr: str, value: Any, budget: int) -> None:
    """Tag ``trial`` with its step and worker; end it as surplus when the step's budget is full.

    The trials counted ahead of it are the step's trials that did not fail, and running trials
    not tagged yet (a worker may be about to tag one), in trial order.
    """
    import optuna

    trial.set_user_attr(attr, value)
    trial.set_user_attr(Attr.WORKER, worker_id())
    ahead = 0
    for t in trial.study.get_trials(deepcopy=False):
        if t.number >= trial.number or t.state == optuna.trial.TrialState.FAIL:
            continue
        if t.user_attrs.get(attr) == value or (t.state.name == "RUNNING" and attr not in t.user_attrs):
            ahead += 1
    if ahead >= budget:
        trial.set_user_attr(Attr.SURPLUS, True)
        raise SurplusTrial(f"Trial {trial.number} started after its step's {budget} trials; it does nothing.")


def await_twin(trial: optuna.Trial, requests_id: str) -> None:
    """Wait while an earlier trial of another worker sends the same requests (the same prompt,
    or one that differs only by calibration: see :attr:`~promptsearch.templates.Prompt.requests_id`):
    its scores then come from the shared cache instead of being computed twice at the same time.

    Earlier running trials that have not chosen their prompt yet are waited for too (they take
    milliseconds), since they may choose this one.
    """
    import optuna

    while True:
        earlier = [
            t
            for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if t.number < trial.number and t.user_attrs.get(Attr.TUNING_MODE, NO_TUNING) == NO_TUNING
        ]
        twins = [t for t in earlier if t.user_attrs.get(Attr.REQUESTS_ID, requests_id) == requests_id]
        if not twins or fail_stale(trial.study):
            return
        time.sleep(POLL_SECONDS / 10)


def run_budget(
    ctx: SearchContext, attr: str, value: Any, budget: int, objective: Callable[[optuna.Trial], float]
) -> bool:
    """Run trials of one step until the study holds ``budget`` finished ones; wait for the others.

    Returns False when it stopped early (time budget, stop request, or every trial failing).
    """
    failures = 0
    while True:
        fail_stale(ctx.study)
        step = [t for t in ctx.study.get_trials(deepcopy=False) if t.user_attrs.get(attr) == value]
        done = sum(1 for t in step if t.state.name in _FINISHED_OK)
        if done >= budget:
            return True
        active = sum(1 for t in step if t.state.name in ("RUNNING", "WAITING"))
        waiting = any(t.state.name == "WAITING" for t in step)
        if ctx.stopping():
            return False
        left = ctx.time_left()
        if left is not None and left <= 0:
            return False
        if done + active < budget or waiting:
            before = len(ctx.study.trials)
            ctx.optimize(objective, 1)
            last = ctx.study.trials[before] if len(ctx.study.trials) > before else None
            if last is not None and last.state.name == "FAIL" and not last.user_attrs.get(Attr.SURPLUS):
                failures += 1
                if failures >= max(3, budget):
                    _logger.warning(
                        "%d trials of %s %s failed; see the log above. The step stops.", failures, attr, value
                    )
                    return False
        else:
            time.sleep(POLL_SECONDS)  # the barrier: other workers are finishing this step's trials


def wait_idle(ctx: SearchContext) -> None:
    """Wait until no trial of the study runs or waits (all workers have finished theirs)."""
    while True:
        fail_stale(ctx.study)
        busy = [t for t in ctx.study.get_trials(deepcopy=False) if t.state.name in ("RUNNING", "WAITING")]
        if not busy or ctx.stopping():
            return
        time.sleep(POLL_SECONDS)


@contextmanager
def stop_on_signals(event: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``event`` (stop after the current trial); a second SIGINT interrupts.

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        event.set()
        _logger.warning(
            "Stopping after the current trial (signal %d); press Ctrl-C again to interrupt now.", signum
        )

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)

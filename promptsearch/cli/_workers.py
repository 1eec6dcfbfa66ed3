"""``promptsearch search --workers N``: extra local worker processes on the command's study.

The command's own process is worker 1: it shows the progress bar, prints the leaderboard and
writes ``--export``. Workers 2..N are ``promptsearch search`` processes with the same options on
the same storage, score cache and artifact store; each writes its output and log under
``OUT/workers/<k>/``. The engine shares the trial budget among them and makes the leaderboard
once (see :mod:`promptsearch.engine._workers`).

A worker that exits with an error stops the others (each after its current trial) and fails the
command with the worker's last error line. A worker killed or stopped by a signal of its own is
only reported: its running trial is failed and retried by the others. The workers share the terminal's process
group, so Ctrl-C reaches every one (each stops after its current trial); a stop that reaches
the command alone is passed on to them with SIGTERM.
"""

from __future__ import annotations

import _thread
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from promptsearch.exceptions import PromptSearchError

__all__ = [
    "LocalWorkers",
    "WorkerFailed",
    "cpu_cores",
    "monitor",
    "quiet_surplus_trials",
    "set_threads",
    "threads_per_worker",
]

_logger = logging.getLogger(__name__)

#: Environment variables that bound the compute threads of torch (OpenMP), BLAS and tokenizers.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")
#: Exit status of a search stopped on request (Ctrl-C, SIGTERM): not a failure.
STOPPED = 130
#: Seconds a worker gets to finish after the command is interrupted a second time.
KILL_GRACE_S = 5.0
_POLL_S = 0.5


class WorkerFailed(PromptSearchError):
    """A worker process of ``--workers`` exited with an error."""


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """The compute threads of each of ``workers`` processes sharing ``cores``: ``max(1, cores // workers)``.

    Example:
        >>> threads_per_worker(4, cores=16), threads_per_worker(4, cores=2)
        (4, 1)
    """
    return max(1, (cpu_cores() if cores is None else cores) // max(1, workers))


def set_threads(n: int) -> None:
    """Bound this process's compute threads to ``n``: torch's pool, OpenMP, BLAS and tokenizers.

    The environment variables take effect in libraries loaded later (torch is imported only with
    the model); libraries already loaded are bounded through torch and ``threadpoolctl``.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover - scikit-learn brings it
        pass
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)


class _SurplusFilter(logging.Filter):
    """Drops Optuna's two warnings (with a traceback) about a surplus trial: a trial that found its
    step's budget full when it started (a race between workers, settled by design)."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        number = message.split(" ", 2)[1] if message.startswith("Trial ") else ""
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and type(error).__name__ == "SurplusTrial":
            self.numbers.add(number)
            return False
        return not (number in self.numbers and message.endswith("failed with value None."))


def quiet_surplus_trials() -> None:
    """Keep surplus trials of many workers out of the log (they are recorded in the study)."""
    from promptsearch.study import OPTIMIZE_LOGGER

    logger = logging.getLogger(OPTIMIZE_LOGGER)
    if not any(isinstance(f, _SurplusFilter) for f in logger.filters):
        logger.addFilter(_SurplusFilter())


@dataclass
class _Worker:
    number: int
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    reported: bool = False
    handle: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else -1

    def error_line(self) -> str:
        """The worker's last error message from its log (``promptsearch search: error: ...``), else
        its last line (an exception's last line)."""
        try:
            lines = [ln.strip() for ln in self.log.read_text(encoding="utf-8", errors="replace").splitlines()]
        except OSError:
            return "no log"
        lines = [ln for ln in lines if ln]
        for line in reversed(lines):
            if ": error: " in line:
                return line.split(": error: ", 1)[1]
        return lines[-1] if lines else "no output"


class LocalWorkers:
    """Worker processes started with ``commands``, each writing stdout and stderr to its log.

    Args:
        commands: One command line per worker (workers 2, 3, ...).
        logs: One log file per worker (its folder is created).
        env: Environment variables added to this process's for every worker.
    """

    def __init__(self, commands: Sequence[list[str]], logs: Sequence[Path], env: dict[str, str]) -> None:
        self.workers = [_Worker(i + 2, list(c), Path(log)) for i, (c, log) in enumerate(zip(commands, logs))]
        self.env = env
        self.stopping = False
        self._failure: str | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start every worker (in the command's process group: Ctrl-C reaches them too)."""
        total = len(self.workers) + 1
        for w in self.workers:
            w.log.parent.mkdir(parents=True, exist_ok=True)
            w.handle = open(w.log, "wb")  # noqa: SIM115 - closed in _close
            env = {**os.environ, **self.env, "PROMPTSEARCH_WORKER": f"{w.number}/{total}"}
            w.process = subprocess.Popen(
                w.command, stdin=subprocess.DEVNULL, stdout=w.handle, stderr=subprocess.STDOUT, env=env
            )
            _logger.info("Started worker %d of %d (pid %d); its log: %s", w.number, total, w.pid, w.log)

    def failure(self) -> str | None:
        """The message of the first worker that exited with an error (``None``: none so far).

        A worker killed by a signal is logged once; its running trial is retried by the others.
        Exits after :meth:`stop` are expected and not failures.
        """
        with self._lock:
            for w in self.workers:
                code = w.process.poll() if w.process is not None else None
                if code is None or code == 0 or w.reported:
                    continue
                w.reported = True
                if self.stopping:
                    continue
                if code < 0 or code == STOPPED:
                    why = f"was killed by signal {-code}" if code < 0 else "was stopped (a signal)"
                    _logger.warning(
                        "Worker %d (pid %d) %s; the others go on and retry its running trial.",
                        w.number,
                        w.pid,
                        why,
                    )
                    continue
                if self._failure is None:
                    self._failure = (
                        f"Worker {w.number} (pid {w.pid}) failed with exit status {code}: {w.error_line()} "
                        f"(its log: {w.log}). Fix the cause and run the same command again to resume."
                    )
            return self._failure

    def running(self) -> list[_Worker]:
        return [w for w in self.workers if w.process is not None and w.process.poll() is None]

    def wait(self) -> None:
        """Wait until every worker has exited; raise :class:`WorkerFailed` at the first failure."""
        while True:
            message = self.failure()
            if message is not None:
                self.stop()
                raise WorkerFailed(message)
            live = self.running()
            if not live:
                self._close()
                return
            with suppress(subprocess.TimeoutExpired):
                live[0].process.wait(timeout=_POLL_S)  # type: ignore[union-attr]

    def stop(self, grace: float | None = None) -> None:
        """Ask every running worker to stop after its current trial (SIGTERM) and wait for them.

        ``grace``: seconds to wait before killing them (``None``: no limit). A Ctrl-C while
        waiting kills them at once (their running trials are retried on resume).
        """
        self.stopping = True
        for w in self.running():
            with suppress(ProcessLookupError):
                w.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        try:
            for w in self.running():
                w.process.wait(timeout=grace)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.kill()
        except KeyboardInterrupt:
            self.kill()
            raise
        self._close()

    def kill(self) -> None:
        """Kill every running worker (SIGKILL)."""
        self.stopping = True
        for w in self.running():
            with suppress(ProcessLookupError):
                w.process.kill()  # type: ignore[union-attr]
                w.process.wait()  # type: ignore[union-attr]

    def _close(self) -> None:
        for w in self.workers:
            if w.handle is not None and (w.process is None or w.process.poll() is not None):
                w.handle.close()
                w.handle = None


@contextmanager
def monitor(
    refresh: Callable[[], None] | None, workers: LocalWorkers | None, every: float = 1.0
) -> Iterator[None]:
    """While the block runs, call ``refresh`` every ``every`` seconds and watch ``workers``: at
    the first failure, interrupt the main thread (the search stops after its current trial, as
    on Ctrl-C; the caller then raises the worker's error)."""
    if refresh is None and workers is None:
        yield
        return
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every):
            if refresh is not None:
                try:
                    refresh()
                except Exception:  # a busy database: the bar waits for the next look
                    _logger.debug("Progress refresh failed", exc_info=True)
            if workers is not None and workers.failure() is not None:
                _logger.warning(
                    "A worker failed (the error follows); every worker stops after its current trial."
                )
                _thread.interrupt_main()
                return

    thread = threading.Thread(target=loop, name="promptsearch-monitor", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()

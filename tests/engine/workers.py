"""Helpers to run whole searches as separate worker processes on one study (for the tests)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import yaml

from tests import _toy

ROOT = Path(__file__).resolve().parents[2]


def write_inputs(
    folder: Path, *, trials: int = 12, latency: float = 0.02, ledger: Path | None = None
) -> Path:
    """A toy data file and a small space on the fake backend; returns the space file."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "toy.csv"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for ex in _toy.sentiment_examples(30, seed=5):
            writer.writerow([ex.inputs["text"], ex.label])
    space: dict[str, Any] = yaml.safe_load((ROOT / "search_spaces/movies.yaml").read_text())
    options: dict[str, Any] = {"latency": latency}
    if ledger is not None:
        options["ledger"] = str(ledger)
    space.update(
        name="toy",
        task=str(data),
        model="fake-toy",
        backend={"name": "fake", "options": options},
        split={"k": 4, "seed": 13},
        evolution={"generations": 2, "population": 4, "parents": 2},
        budget={"trials": trials},
        final={"top": 2, "test_limit": 8},
    )
    space["templates"]["n_initial"] = 6
    space["verbalizers"]["auto"]["enabled"] = False
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(space), encoding="utf-8")
    return path


def command(space: Path, storage: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "promptsearch",
        "-q",
        "search",
        str(space),
        "--storage",
        storage,
        "--out",
        str(out),
        "--study",
        "shared",
        *extra,
    ]


def search_command(space: Path, out: Path, *extra: str) -> list[str]:
    """``promptsearch -q search SPACE --out OUT ...`` (the study in OUT unless ``extra`` names one)."""
    return [sys.executable, "-m", "promptsearch", "-q", "search", str(space), "--out", str(out), *extra]


def start(
    args: list[str], *, pythonpath: Path | None = None, new_session: bool = False
) -> subprocess.Popen[str]:
    """Start a command; ``pythonpath`` goes first on the path (e.g. a ``sitecustomize.py``);
    ``new_session``: its own process group, as a command started from a terminal has."""
    paths = [str(pythonpath)] if pythonpath is not None else []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([*paths, str(ROOT)])}
    env.pop("PROMPTSEARCH_WORKER", None)
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=new_session,
    )


def finish(procs: list[subprocess.Popen[str]], timeout: float = 300) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append((p.returncode, stdout, stderr))
    return out


def create(storage: str) -> None:
    """Make the storage's tables (several processes creating them at once may collide)."""
    from promptsearch.study import make_storage

    make_storage(storage)


def open_study(storage: str, name: str = "shared") -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from promptsearch.study import make_storage

    return optuna.load_study(study_name=name, storage=make_storage(storage))


def wait_for(storage: str, predicate: Any, timeout: float = 120, name: str = "shared") -> optuna.Study:
    """Poll the study until ``predicate(study)`` holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            study = open_study(storage, name)
            if predicate(study):
                return study
        except KeyError:
            pass  # not created yet
        time.sleep(0.2)
    raise TimeoutError("the study never reached the expected state")


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]

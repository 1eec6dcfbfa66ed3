"""``kill -9`` in the middle of the tuning stage (a prompt-tuning trial training), then the same
command again: no finished trial lost or changed, the killed trial failed and retried with the
same choices, exactly the budget finished, and a leaderboard."""

from __future__ import annotations

import signal
from pathlib import Path

import yaml

from promptsearch.models import LoadedModel
from tests._tiny import save_loaded
from tests.engine import workers as w


def _space(folder: Path, model: Path) -> Path:
    path = w.write_inputs(folder, trials=3)
    space = yaml.safe_load(path.read_text())
    space.update(
        model=str(model),
        backend="hf",
        selection={"rule": "best"},
        evolution={"generations": 1, "population": 3, "parents": 2},
        tuning={
            "modes": ["none", "prompt_tuning"],
            "trials": 3,
            "top": 2,
            # long enough to be killed while training; eval_every reports the curve as it goes
            "prompt_tuning": {"n_tokens": 2, "lr": [0.01, 0.1], "steps": 400, "eval_every": 100},
        },
    )
    space["templates"]["n_initial"] = 3
    path.write_text(yaml.safe_dump(space))
    return path


def _training(study) -> bool:  # type: ignore[no-untyped-def]
    return any(t.state.name == "RUNNING" and "tuning_mode" in t.params for t in study.trials)


def test_kill_9_during_the_tuning_stage_then_resume(tiny_causal: LoadedModel, tmp_path: Path) -> None:
    model = save_loaded(tiny_causal, tmp_path / "model")
    space = _space(tmp_path, model)
    storage = f"sqlite:///{tmp_path}/study.db"
    out = tmp_path / "out"
    proc = w.start(w.command(space, storage, out))
    try:
        w.wait_for(storage, _training, timeout=240)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    study = w.open_study(storage)
    before = {t.number: (t.value, t.params) for t in study.trials if t.state.name == "COMPLETE"}
    killed = [t.number for t in study.trials if t.state.name == "RUNNING"]
    assert killed and all("tuning_mode" in study.trials[n].params for n in killed)
    ((code, _, stderr),) = w.finish([w.start(w.command(space, storage, out))], timeout=600)
    assert code == 0, stderr[-3000:]
    after = w.open_study(storage)
    for number, (value, params) in before.items():  # nothing finished was lost or changed
        assert after.trials[number].value == value and after.trials[number].params == params
    assert all(after.trials[n].state.name == "FAIL" for n in killed)
    retried = [t for t in after.trials if t.system_attrs.get("failed_trial") in killed]
    assert retried and all(t.state.name in ("COMPLETE", "PRUNED") for t in retried)
    for t in retried:  # the retry keeps the killed trial's choices: same base prompt, same settings
        assert {k: t.params[k] for k in after.trials[t.system_attrs["failed_trial"]].params} == (
            after.trials[t.system_attrs["failed_trial"]].params
        )
    tuned = [t for t in w.finished(after) if "tuning_mode" in t.params]
    assert len(w.finished(after)) == 6 and len(tuned) == 3  # 3 discrete + 3 tuning trials, once each
    assert (out / "leaderboard.md").read_text().startswith("# Leaderboard")

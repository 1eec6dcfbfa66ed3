"""Plugins loaded without editing promptsearch: an installed package's entry point (group
``promptsearch.plugins``) and ``PROMPTSEARCH_PLUGINS``, used from a YAML space and the CLI; a
plugin that fails to import is an error that names it.

The plugin package is written into a temporary folder with its ``.dist-info`` metadata (what
``pip install`` leaves), so ``importlib.metadata`` finds its entry point as for an installed one.
It registers the plugins of ``tests/engine/test_plugins.py``: a server-shaped backend, a metric,
an edit operator and a tuning mode; and a task type whose predictions are a new kind, with a
metric of that kind.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import yaml

from tests.engine import workers as w

PLUGIN = textwrap.dedent(
    """\
    from promptsearch.backends import register_backend
    from promptsearch.generators import operators
    from promptsearch.metrics import metrics
    from promptsearch.tuning import TuningMode, tuning_modes
    from tests.engine.test_plugins import (
        Exclaim, PositiveRecall, ReseedConfig, ServerBackend, load_reseed, train_reseed,
    )

    register_backend("test-server", ServerBackend.load)
    metrics.register(PositiveRecall.name, PositiveRecall())
    operators.register(Exclaim.name, Exclaim)
    tuning_modes.register(
        "test_reseed", TuningMode("test_reseed", ReseedConfig, train_reseed, load_reseed, param_prefix="rs")
    )

    import numpy as np
    from promptsearch.metrics import BaseMetric, register_metric
    from promptsearch.scoring import ChoiceScores, register_output
    from promptsearch.tasks import MultipleChoice, register_task_type

    @register_output
    class Ranked(ChoiceScores):  # a new prediction kind, scored as multiple choice
        kind = "test_ranked"

    @register_metric
    class TopOne(BaseMetric):
        name, kinds = "test_top_one", frozenset({"test_ranked"})

        def per_example(self, predictions):
            return (np.array(predictions.predicted) == np.array(predictions.targets)).astype(float)

    @register_task_type
    class Ranking(MultipleChoice):  # reads a file's choices as multiple choice does
        name, output, default_metric = "test_ranking", "test_ranked", "test_top_one"
    """
)


def _install(site: Path, name: str, *, entry_point: bool, body: str = PLUGIN) -> None:
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text(body)
    if entry_point:
        info = site / f"{name}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[promptsearch.plugins]\ntoy = {name}\n")


def _space(folder: Path) -> Path:
    path = w.write_inputs(folder, trials=6)
    data = yaml.safe_load(path.read_text())
    data.update(
        model="http://localhost:8000/v1",
        backend={"name": "test-server", "options": {"seed": 3}},
        metric="test_positive_recall",
        operators={"test_exclaim": {"suffix": "!!"}},
        tuning={"modes": ["none", "test_reseed"], "test_reseed": {"seed": [1, 4]}},
    )
    path.write_text(yaml.safe_dump(data))
    return path


def _search(space: Path, out: Path, site: Path, **env: str) -> tuple[int, str]:
    import os
    import subprocess

    environment = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(site), str(w.ROOT)])}
    done = subprocess.run(
        [*w.search_command(space, out)],
        capture_output=True,
        text=True,
        cwd=w.ROOT,
        env=environment,
        timeout=600,
    )
    return done.returncode, done.stderr


def _installed_search(tmp_path: Path, package: str, space: Path) -> dict[str, Any]:
    """Install the plugin package with its entry point, search ``space`` with the CLI, return
    the leaderboard."""
    site = tmp_path / "site"
    _install(site, package, entry_point=True)
    code, stderr = _search(space, tmp_path / "out", site)
    assert code == 0, stderr[-3000:]
    board: dict[str, Any] = json.loads((tmp_path / "out" / "leaderboard.json").read_text())
    return board


def test_an_installed_plugin_package_is_used_from_a_space_and_the_cli(tmp_path: Path) -> None:
    board = _installed_search(tmp_path, "ps_toy_plugin", _space(tmp_path))
    assert board["metric"] == "test_positive_recall" and board["model"] == "http://localhost:8000/v1"


def _ranking_space(folder: Path) -> Path:
    """A file of multiple-choice rows read as the plugin's task type, on the fake backend."""
    from tests import _toy

    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"text": e.inputs["text"], "choices": list(e.choices), "label": e.label}
        for e in _toy.toy_choice_task().examples
    ]
    data = folder / "colors.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    space = yaml.safe_load(w.write_inputs(folder, trials=4).read_text())
    space.update(
        task={"name_or_path": str(data), "task_type": "test_ranking"},
        templates={
            "seeds": ["Q: What color is {text}?\nA:{label}", "The color of {text} is{label}"],
            "n_initial": 3,
        },
        calibration=[False],
    )
    space.pop("verbalizers", None)
    path = folder / "ranking.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


def test_a_plugin_task_type_with_its_own_prediction_kind_and_metric(tmp_path: Path) -> None:
    board = _installed_search(tmp_path, "ps_rank_plugin", _ranking_space(tmp_path))
    assert board["metric"] == "test_top_one"  # the task type's default metric, of its own kind
    values = [row["test_metrics"]["test_top_one"] for row in board["rows"]]
    assert values and all(0.0 <= v <= 1.0 for v in values) and max(values) > 0.25  # above chance (4 colors)


def test_a_local_plugin_module_is_named_in_the_environment(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "my_local_plugins", entry_point=False)
    space = _space(tmp_path)
    code, stderr = _search(space, tmp_path / "without", site)
    assert code == 2 and "unknown" in stderr.lower() and "test-server" in stderr  # not loaded: unknown name
    code, stderr = _search(space, tmp_path / "with", site, PROMPTSEARCH_PLUGINS="my_local_plugins")
    assert code == 0, stderr[-3000:]


def test_a_broken_plugin_is_an_error_that_names_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "ps_broken_plugin", entry_point=True, body="import no_such_module_anywhere\n")
    code, stderr = _search(_space(tmp_path), tmp_path / "out", site)
    assert code == 2, stderr[-3000:]
    assert "plugin 'toy'" in stderr and "ps_broken_plugin" in stderr and "no_such_module_anywhere" in stderr
    assert "Traceback" not in stderr
    code, stderr = _search(_space(tmp_path / "b"), tmp_path / "out2", site, PROMPTSEARCH_PLUGINS="nope_mod")
    assert code == 2 and "'toy'" in stderr  # the entry point fails first, by name

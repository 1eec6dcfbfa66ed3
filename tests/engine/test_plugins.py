"""Plugins registered once, then used from a YAML search space: a backend (a skeleton of a server
backend), a metric, an edit operator and a tuning mode. Nothing else lists their names."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import yaml

from promptsearch.backends import (
    Capabilities,
    FakeBackend,
    GenerationRequest,
    GenerationSettings,
    LMBackend,
    LoglikelihoodRequest,
    ProgressCallback,
    backends,
)
from promptsearch.engine import PromptSearch
from promptsearch.generators import BaseOperator, Candidate, Edit, operators
from promptsearch.metrics import BaseMetric, Predictions, metrics
from promptsearch.space import load_search_space
from promptsearch.tasks import Task
from promptsearch.tuning import TuningMode, tuning_modes
from tests import _toy


class ServerBackend(LMBackend):
    """The shape of a backend for a model behind a server (here answered by a fake model)."""

    capabilities: ClassVar[Capabilities] = Capabilities(trainable=True)
    registry_name: ClassVar[str] = "test-server"

    def __init__(self, url: str, *, seed: int = 0, batch_size: int | None = None) -> None:
        super().__init__(batch_size=batch_size)
        self.url = url
        self._model = _toy.fake_backend(seed=seed)  # a real one would send HTTP requests here
        self.loaded = {"url": url}  # what a test tuning mode trains on

    @classmethod
    def load(
        cls,
        model: Any,
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | None = None,
        seed: int = 0,
    ) -> ServerBackend:
        return cls(str(model), seed=seed, batch_size=batch_size)

    @property
    def name(self) -> str:
        return self.url

    @property
    def model_id(self) -> str:
        return f"{self.url}:{self._model.model_id}"

    def count_tokens(self, text: str) -> int:
        return self._model.count_tokens(text)

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[np.ndarray]:
        self.stats.instances += len(requests)
        return self._model.loglikelihood(requests, progress)

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        settings: GenerationSettings,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        self.stats.instances += len(requests)
        return self._model.generate(requests, settings, progress)


class PositiveRecall(BaseMetric):
    name = "test_positive_recall"
    kinds = frozenset({"label"})

    def per_example(self, predictions: Predictions) -> np.ndarray:
        y, p = np.array(predictions.targets), np.array(predictions.predicted)
        return np.where(y == 1, (p == 1).astype(float), 0.0) * (len(y) / max(1, int((y == 1).sum())))


class Exclaim(BaseOperator):
    """Appends a suffix to the instruction."""

    name = "test_exclaim"

    def __init__(self, suffix: str = "!") -> None:
        self.suffix = suffix

    def propose(self, parent: Candidate, rng: np.random.Generator, n: int) -> list[Candidate]:
        text = (parent.instruction or "Answer") + self.suffix
        return self._emit([parent], [Edit(text, parent.template, f"exclaim {self.suffix!r}")], n)


@dataclass(frozen=True)
class ReseedConfig:
    seed: int = field(default=0, metadata={"help": "Seed of the retrained model.", "range": "int"})


@dataclass
class ReseedResult:
    config: ReseedConfig
    seconds: float = 0.0
    seconds_per_step: float = 0.0
    peak_memory_mb: float = 0.0

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "reseed.json").write_text(json.dumps({"seed": self.config.seed}))
        return folder

    def backend(self, model: Any, *, batch_size: int | None = None) -> LMBackend:
        return ServerBackend(str(model["url"]), seed=100 + self.config.seed, batch_size=batch_size)


def train_reseed(
    model: Any, prompt: Any, train: Any, dev: Any, config: ReseedConfig, *, report: Any
) -> ReseedResult:
    report(0, 0.5)
    return ReseedResult(config)


def load_reseed(model: Any, folder: Path, batch_size: int | None) -> LMBackend:
    seed = json.loads((folder / "reseed.json").read_text())["seed"]
    return ServerBackend(str(model["url"]), seed=100 + seed, batch_size=batch_size)


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register each plugin once (removed again after the test)."""
    monkeypatch.setitem(backends._entries, "test-server", ServerBackend.load)
    monkeypatch.setitem(metrics._entries, PositiveRecall.name, PositiveRecall())
    monkeypatch.setitem(operators._entries, Exclaim.name, Exclaim)
    mode = TuningMode("test_reseed", ReseedConfig, train_reseed, load_reseed, param_prefix="rs")
    monkeypatch.setitem(tuning_modes._entries, mode.name, mode)


def _space_file(tmp_path: Path, **changes: Any) -> Path:
    data: dict[str, Any] = yaml.safe_load(Path("search_spaces/movies.yaml").read_text())
    data.update(
        model="http://localhost:8000/v1",
        backend={"name": "test-server", "options": {"seed": 3}},
        metric="test_positive_recall",
        split={"k": 4, "seed": 13},
        evolution={"generations": 2, "population": 4, "parents": 2},
        operators={"test_exclaim": {"suffix": "!!"}},
        tuning={"modes": ["none", "test_reseed"], "test_reseed": {"seed": [1, 4]}},
        final={"top": 2, "test_limit": 8},
    )
    data["templates"]["n_initial"] = 4
    data["verbalizers"]["auto"]["enabled"] = False
    data.update(changes)
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_plugins_are_usable_from_yaml(plugins: None, toy_task: Task, tmp_path: Path) -> None:
    space = load_search_space(_space_file(tmp_path))
    assert space.backend.name == "test-server" and space.metric == "test_positive_recall"
    search = PromptSearch(space, task=toy_task, n_trials=8, out_dir=tmp_path / "run").fit()
    assert isinstance(search.backend_, ServerBackend) and search.backend_.name == "http://localhost:8000/v1"
    assert search.leaderboard_.metric == "test_positive_recall"
    pool = json.loads(search.study_.user_attrs["pool_g1"])
    assert any(c["origin"] == "test_exclaim" and c["instruction"].endswith("!!") for c in pool)
    modes = {t.params.get("tuning_mode") for t in search.study_.trials}
    assert "test_reseed" in modes
    tuned = [t for t in search.study_.trials if t.params.get("tuning_mode") == "test_reseed"]
    assert all(1 <= t.params["rs_seed"] <= 4 for t in tuned)
    # the weights are in the study's artifact store, not at a local path
    import optuna

    store = optuna.artifacts.FileSystemArtifactStore(str(tmp_path / "run" / "artifacts"))
    for t in tuned:
        optuna.artifacts.download_artifact(
            artifact_store=store,
            file_path=str(tmp_path / f"{t.number}.zip"),
            artifact_id=t.user_attrs["tuning_artifact"],
        )
        assert "reseed.json" in zipfile.ZipFile(tmp_path / f"{t.number}.zip").namelist()


def test_unregistered_names_are_errors_with_suggestions(plugins: None, tmp_path: Path) -> None:
    from promptsearch.exceptions import ConfigError

    for key, value, message in [
        ("backend", "test-sever", "Did you mean 'test-server'"),
        ("metric", "test_positive_recal", "Did you mean 'test_positive_recall'"),
        ("operators", {"test_exclam": {}}, "Did you mean 'test_exclaim'"),
        ("operators", {"test_exclaim": {"sufix": "?"}}, "Did you mean 'suffix'"),
        ("tuning", {"modes": ["test_resed"]}, "unknown mode"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_search_space(_space_file(tmp_path, **{key: value}))


def test_settings_of_registered_plugins(plugins: None) -> None:
    assert Exclaim.setting_names() == ("suffix",)
    assert tuning_modes.get("test_reseed").ranges() == {"seed": "int"}
    assert isinstance(backends.get("test-server")("u"), ServerBackend)
    assert isinstance(FakeBackend.load("x"), FakeBackend)

"""The typed ``tuning`` section (``TuningSpace``) and the registered ``none`` mode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from promptsearch.exceptions import ConfigError
from promptsearch.models import LoadedModel
from promptsearch.space import SearchSpace, TuningSpace, TuningStage, all_modes, load_search_space
from promptsearch.tuning import NO_TUNING, tuners, tuning_modes

ROOT = Path(__file__).resolve().parents[2]


def test_the_section_is_parsed_once_and_written_back_as_in_yaml() -> None:
    raw = yaml.safe_load((ROOT / "search_spaces" / "movies-soft.yaml").read_text())["tuning"]
    space = load_search_space(ROOT / "search_spaces" / "movies-soft.yaml")
    tuning = space.tuning
    assert isinstance(tuning, TuningSpace)
    assert tuning.choices == ("prompt_tuning", "lora") == tuning.tuned
    assert tuning.stage == TuningStage(trials=6, top=3)
    assert tuning.settings_of("prompt_tuning")["n_tokens"] == (4, 8)
    assert tuning.settings_of("bbt") == {}
    # the layout a study's identity was computed from is unchanged: the YAML section itself
    assert space.to_dict()["tuning"] == raw
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_no_section_tunes_nothing_and_is_written_as_null() -> None:
    space = load_search_space(ROOT / "search_spaces" / "movies.yaml")
    assert space.tuning == TuningSpace()
    assert space.tuning.choices == (NO_TUNING,) and space.tuning.tuned == () and space.tuning.stage is None
    assert space.to_dict()["tuning"] is None
    assert replace(space, tuning=None).tuning == TuningSpace()  # type: ignore[arg-type]
    joint = replace(space, tuning={"modes": ["none", "lora"]})  # type: ignore[arg-type]
    assert joint.tuning.tuned == ("lora",) and joint.tuning.stage is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"modes": ["prompt_tunin"]}, r"tuning\.modes: unknown mode\(s\) \['prompt_tunin'\]"),
        ({"modes": ["lora"], "lroa": {}}, r"tuning\.lroa: unknown key; use 'modes'"),
        (
            {"modes": ["lora"], "lora": {"rnak": [4]}},
            r"tuning\.lora\.rnak is not a setting of the lora tuner",
        ),
        ({"modes": ["lora"], "lora": [4]}, r"tuning\.lora: expected a mapping"),
        ({"modes": ["lora"], "trials": True}, r"tuning\.trials: must be a whole number"),
        ({"modes": ["lora"], "top": 2}, r"tuning\.top: only applies to a staged schedule"),
        ({"modes": ["none"], "trials": 2}, r"tuning\.trials: adds tuning trials, but .* no tuning mode"),
        ({"modes": ["none"], "none": {}}, r"tuning\.none: unknown key"),
    ],
)
def test_bad_sections_name_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TuningSpace.from_dict(section)


def test_none_is_a_registered_mode_first_whose_loader_is_the_plain_backend(
    tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    from promptsearch.backends import HFBackend

    assert all_modes()[0] == NO_TUNING and tuning_modes.registered()[0] == NO_TUNING
    backend = tuning_modes.get(NO_TUNING).load(tiny_causal, tmp_path, 3)
    assert isinstance(backend, HFBackend) and backend.batch_size == 3
    assert NO_TUNING not in tuners and NO_TUNING not in tuners.names()  # nothing to train
    with pytest.raises(ConfigError, match="nothing to train"):
        tuning_modes.get(NO_TUNING).train()

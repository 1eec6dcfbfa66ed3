from __future__ import annotations

import subprocess
import sys

import pytest

from promptsearch.exceptions import ConfigError, UnknownNameError
from promptsearch.tuning import BBTConfig, FinetuneConfig, SoftInit, SoftPromptConfig, default_config, tuners


@pytest.mark.parametrize("cls", [SoftPromptConfig, BBTConfig, FinetuneConfig])
def test_round_trip(cls: type) -> None:
    config = cls()
    assert cls.from_dict(config.to_dict()) == config


def test_soft_init_from_string() -> None:
    assert SoftPromptConfig(init="vocab").init is SoftInit.VOCAB  # type: ignore[arg-type]
    assert SoftPromptConfig().to_dict()["init"] == "TEXT"


@pytest.mark.parametrize(
    ("cls", "kwargs", "needle"),
    [
        (SoftPromptConfig, {"n_tokens": 0}, "n_tokens"),
        (SoftPromptConfig, {"placement": "middle"}, "placement"),
        (SoftPromptConfig, {"init": "bogus"}, "init"),
        (SoftPromptConfig, {"init_text": " "}, "init_text"),
        (SoftPromptConfig, {"seed": -1}, "seed"),
        (BBTConfig, {"population": 1}, "population"),
        (FinetuneConfig, {"mode": "qlora"}, "mode"),
        (FinetuneConfig, {"dropout": 1.0}, "dropout"),
    ],
)
def test_invalid(cls: type, kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        cls(**kwargs)


def test_unknown_field_named() -> None:
    with pytest.raises(ConfigError, match="stepz"):
        SoftPromptConfig.from_dict({"stepz": 3})


def test_finetune_default_learning_rates() -> None:
    assert FinetuneConfig().learning_rate == 1e-3
    assert FinetuneConfig(mode="full").learning_rate == 2e-5
    assert FinetuneConfig(lr=0.5).learning_rate == 0.5


def test_registry() -> None:
    assert tuners.names() == ["bbt", "full", "lora", "prompt_tuning"]
    assert callable(tuners.get("bbt"))
    assert default_config("full", epochs=2) == FinetuneConfig(mode="full", epochs=2)
    with pytest.raises(UnknownNameError, match="lora"):
        tuners.get("lore")


def test_import_is_light() -> None:
    code = (
        "import sys, promptsearch.tuning; "
        "print(sorted(m for m in ('torch', 'peft', 'cmaes', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

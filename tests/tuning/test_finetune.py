"""Prompt-based fine-tuning: the caller's model is untouched; results round-trip exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from promptsearch.backends import hf_backend as CausalLMScorer
from promptsearch.exceptions import ConfigError, TemplateError
from promptsearch.models import LoadedModel
from promptsearch.tasks._records import Example
from promptsearch.templates import Prompt
from promptsearch.tuning import FinetuneConfig, finetune, load_finetuned, tuners


def _state(lm: LoadedModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in lm.model.state_dict().items()}


def _scores(lm: LoadedModel, prompt: Prompt, examples: list[Example]) -> list[np.ndarray]:
    return CausalLMScorer(lm, batch_size=4).loglikelihood(prompt.instances(examples))


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_finetune_round_trip(
    mode: str,
    tmp_path: Path,
    tiny_causal: LoadedModel,
    toy_prompt: Prompt,
    toy_train: list[Example],
    toy_dev: list[Example],
) -> None:
    before = _state(tiny_causal)
    lr = 1e-2 if mode == "lora" else 1e-3
    config = FinetuneConfig(mode=mode, rank=4, alpha=8, lr=lr, epochs=2, batch_size=6)
    result = tuners.get(mode)(tiny_causal, toy_prompt, toy_train, toy_dev, config)
    after = _state(tiny_causal)
    assert all(torch.equal(before[k], after[k]) for k in before)  # the caller's model is untouched
    assert len(result.step_losses) == 4 and result.history[0][0] == 0
    assert result.model.name.startswith(f"{tiny_causal.name}+{mode}-")
    assert result.model.model is not tiny_causal.model
    base_scores = _scores(tiny_causal, toy_prompt, toy_dev)
    tuned_scores = _scores(result.model, toy_prompt, toy_dev)
    assert result.best_step > 0  # the toy task is learnable: training beat the start on dev
    assert max(float(np.abs(a - b).max()) for a, b in zip(base_scores, tuned_scores)) > 1e-4
    folder = result.save(tmp_path / mode)
    if mode == "lora":
        assert (folder / "adapter_config.json").is_file() and (folder / "adapter_model.safetensors").is_file()
    loaded = load_finetuned(tiny_causal, folder)
    assert loaded.name == result.model.name
    reloaded = _scores(loaded, toy_prompt, toy_dev)
    assert all(np.array_equal(a, b) for a, b in zip(tuned_scores, reloaded))
    assert all(torch.equal(before[k], v) for k, v in _state(tiny_causal).items())


def test_lora_lowers_the_loss(
    tiny_causal: LoadedModel, toy_prompt: Prompt, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    config = FinetuneConfig(rank=4, lr=2e-2, epochs=4, batch_size=12)
    result = finetune(tiny_causal, toy_prompt, toy_train, toy_dev, config)
    assert result.step_losses[-1] < 0.8 * result.step_losses[0]


def test_finetune_rejects_soft_slots_and_wrong_mode(
    tiny_causal: LoadedModel, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    prompt = Prompt.create("{soft:2}{text}:{label}", "bad,good", ("neg", "pos"))
    with pytest.raises(TemplateError, match="soft"):
        finetune(tiny_causal, prompt, toy_train, toy_dev)
    plain = Prompt.create("{text}:{label}", "bad,good", ("neg", "pos"))
    with pytest.raises(ConfigError, match="'full' tuner"):
        tuners.get("lora")(tiny_causal, plain, toy_train, toy_dev, FinetuneConfig(mode="full"))


def test_a_lora_folder_without_its_safetensors_never_reaches_the_hub(
    tiny_causal: LoadedModel, tmp_path: Path
) -> None:
    """PEFT would fall back to a pickled adapter_model.bin, then to a Hub download."""
    import json

    from promptsearch.exceptions import ModelError

    (tmp_path / "promptsearch_finetune.json").write_text(json.dumps({"mode": "lora"}))
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.bin").write_bytes(b"\x80\x04N.")
    with pytest.raises(ModelError, match=r"lacks \['adapter_model.safetensors'\]"):
        load_finetuned(tiny_causal, tmp_path)

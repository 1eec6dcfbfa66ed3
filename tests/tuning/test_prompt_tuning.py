"""Prompt tuning: only the soft prompt learns, the loss falls, results round-trip through PEFT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from promptsearch.exceptions import ConfigError, DataError, TemplateError
from promptsearch.models import LoadedModel
from promptsearch.tasks._records import Example
from promptsearch.templates import Prompt
from promptsearch.tuning import SoftInit, SoftPromptConfig, load_soft_prompt, train_soft_prompt
from promptsearch.tuning._common import frozen, initial_embeddings
from tests import _tiny

FAST = SoftPromptConfig(n_tokens=4, steps=6, lr=0.05, batch_size=6, eval_every=3, patience=0)


@pytest.fixture(scope="module")
def private_lm() -> LoadedModel:
    """A private tiny Llama: these tests freeze and check its parameters."""
    return _tiny.tiny_causal(seed=1)


def _state(lm: LoadedModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in lm.model.state_dict().items()}


def test_only_the_soft_prompt_learns(
    private_lm: LoadedModel, toy_prompt: Prompt, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    before = _state(private_lm)
    flags = [p.requires_grad for p in private_lm.model.parameters()]
    seen: list[bool] = []

    def report(step: int, accuracy: float) -> bool:
        seen.append(any(p.requires_grad for p in private_lm.model.parameters()))
        return False

    config = SoftPromptConfig(n_tokens=4, steps=3, lr=0.05, batch_size=6, eval_every=1, patience=0)
    result = train_soft_prompt(private_lm, toy_prompt, toy_train, toy_dev, config, report=report)
    init, _ = initial_embeddings(private_lm, 4, SoftInit.TEXT, config.init_text, config.seed)
    assert not torch.allclose(result.embeddings, init)
    assert seen == [False] * 4  # frozen during training (evaluations at steps 0..3)
    after = _state(private_lm)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in private_lm.model.parameters()] == flags  # flags restored
    assert all(p.grad is None for p in private_lm.model.parameters())


def test_gradient_reaches_only_the_embeddings(private_lm: LoadedModel, toy_prompt: Prompt) -> None:
    from promptsearch.tuning import SoftPromptScorer

    soft = torch.nn.Parameter(torch.randn(3, 32) * 0.1)
    scorer = SoftPromptScorer(private_lm, soft)
    instances = toy_prompt.instances(_toy(4))
    with frozen(private_lm.model):
        loss = -scorer.label_log_probs(instances, 2)[:, 0].sum()
        loss.backward()
    assert soft.grad is not None and float(soft.grad.abs().sum()) > 0
    assert all(p.grad is None for p in private_lm.model.parameters())


def _toy(n: int) -> list[Example]:
    from tests.tuning.conftest import toy_examples

    return toy_examples(n, seed=5)


def test_training_lowers_the_loss(
    tiny_causal: LoadedModel, toy_prompt: Prompt, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    config = SoftPromptConfig(n_tokens=4, steps=12, lr=0.05, batch_size=12, eval_every=4, patience=0)
    result = train_soft_prompt(tiny_causal, toy_prompt, toy_train, toy_dev, config)
    assert len(result.step_losses) == 12
    assert np.mean(result.step_losses[-3:]) < 0.8 * result.step_losses[0]
    assert [h[0] for h in result.history] == [0, 4, 8, 12]
    assert result.dev_accuracy >= result.initial_dev_accuracy
    assert result.seconds_per_step > 0 and result.peak_memory_mb > 0


def test_report_true_stops(
    tiny_causal: LoadedModel, toy_prompt: Prompt, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    calls: list[int] = []

    def report(step: int, accuracy: float) -> bool:
        calls.append(step)
        return step >= 3

    result = train_soft_prompt(
        tiny_causal,
        toy_prompt,
        toy_train,
        toy_dev,
        FAST.__class__(**{**FAST.to_dict(), "steps": 30}),
        report=report,
    )
    assert calls == [0, 3]
    assert len(result.step_losses) == 3


def test_patience_stops(
    tiny_causal: LoadedModel, toy_prompt: Prompt, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    config = SoftPromptConfig(n_tokens=2, steps=40, lr=1e-9, batch_size=4, eval_every=1, patience=2)
    result = train_soft_prompt(tiny_causal, toy_prompt, toy_train, toy_dev, config)
    assert len(result.step_losses) < 40  # a tiny learning rate never improves: stops early
    assert result.best_step <= result.history[-1][0] - 2


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")  # inside PEFT
def test_save_load_round_trip(
    tmp_path: Path,
    tiny_causal: LoadedModel,
    toy_prompt: Prompt,
    toy_train: list[Example],
    toy_dev: list[Example],
) -> None:
    from peft import PeftModel

    result = train_soft_prompt(tiny_causal, toy_prompt, toy_train, toy_dev, FAST)
    folder = result.save(tmp_path / "soft", tiny_causal)
    assert {p.name for p in folder.iterdir()} >= {
        "adapter_config.json",
        "adapter_model.safetensors",
        "promptsearch_soft.json",
    }
    meta = json.loads((folder / "promptsearch_soft.json").read_text())
    assert meta["placement"] == "prefix" and meta["n_tokens"] == 4
    loaded = load_soft_prompt(tiny_causal, folder)
    instances = toy_prompt.instances(toy_dev)
    expected = result.scorer(tiny_causal).loglikelihood(instances)
    got = loaded.loglikelihood(instances)
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))
    peft_model = PeftModel.from_pretrained(_tiny.tiny_causal().model, str(folder))
    weight = peft_model.prompt_encoder["default"].embedding.weight
    assert torch.equal(weight.detach(), result.embeddings)


def test_slot_placement_trains(
    tiny_causal: LoadedModel, toy_train: list[Example], toy_dev: list[Example], tmp_path: Path
) -> None:
    prompt = Prompt.create("Review: {text}{soft:3}\nSentiment:{label}", "bad,good", ("neg", "pos"))
    config = SoftPromptConfig(n_tokens=3, placement="slot", init="VOCAB", steps=2, eval_every=1, patience=0)
    result = train_soft_prompt(tiny_causal, prompt, toy_train, toy_dev, config)
    assert result.embeddings.shape == (3, 32) and result.placement == "slot"
    loaded = load_soft_prompt(tiny_causal, result.save(tmp_path / "slot"))
    assert loaded.placement == "slot"
    with pytest.raises(ConfigError, match="n_tokens=3"):
        train_soft_prompt(
            tiny_causal, prompt, toy_train, toy_dev, SoftPromptConfig(n_tokens=4, placement="slot")
        )
    with pytest.raises(TemplateError, match="placement"):
        train_soft_prompt(tiny_causal, prompt, toy_train, toy_dev, SoftPromptConfig(n_tokens=3))


def test_bad_data(tiny_causal: LoadedModel, toy_prompt: Prompt, toy_train: list[Example]) -> None:
    with pytest.raises(DataError, match="dev set is empty"):
        train_soft_prompt(tiny_causal, toy_prompt, toy_train, [], FAST)
    odd = [Example.create({"text": "x"}, "maybe")]
    with pytest.raises(DataError, match="maybe"):
        train_soft_prompt(tiny_causal, toy_prompt, toy_train, odd, FAST)


@pytest.mark.parametrize("init", list(SoftInit))
def test_inits(tiny_causal_absolute: LoadedModel, init: SoftInit) -> None:
    a, cfg = initial_embeddings(tiny_causal_absolute, 5, init, "Classify the sentiment", seed=0)
    b, _ = initial_embeddings(tiny_causal_absolute, 5, init, "Classify the sentiment", seed=0)
    assert a.shape == (5, 32) and torch.equal(a, b)
    assert cfg.num_virtual_tokens == 5
    if init is SoftInit.TEXT:
        ids = tiny_causal_absolute.tokenizer("Classify the sentiment")["input_ids"]
        weight = tiny_causal_absolute.model.get_input_embeddings().weight
        assert torch.equal(a[0], weight[ids[0]].detach())


def test_masked_lm_prompt_tuning(
    tiny_masked: LoadedModel, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    prompt = Prompt.create("{text} It was{label}.", "bad,good", ("neg", "pos"))
    before = _state(tiny_masked)
    config = SoftPromptConfig(
        n_tokens=3, init="VOCAB", steps=4, lr=0.05, batch_size=6, eval_every=2, patience=0
    )
    result = train_soft_prompt(tiny_masked, prompt, toy_train, toy_dev, config)
    assert len(result.step_losses) == 4 and result.embeddings.shape == (3, 32)
    assert all(torch.equal(before[k], v) for k, v in _state(tiny_masked).items())

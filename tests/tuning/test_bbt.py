"""Black-box tuning: deterministic, population scored in batches, never worse than its start."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from promptsearch.models import LoadedModel
from promptsearch.tasks._records import Example
from promptsearch.templates import Prompt
from promptsearch.tuning import BBTConfig, projection, train_bbt

FAST = BBTConfig(n_tokens=3, intrinsic_dim=6, population=5, iterations=4, sigma=1.0, batch_size=64)


def test_runs_deterministic_and_keeps_best(
    tiny_causal: LoadedModel, toy_prompt: Prompt, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    batch_rows: list[int] = []

    def hook(module: Any, args: Any, kwargs: Any) -> None:
        batch_rows.append(int(kwargs["inputs_embeds"].shape[0]))

    handle = tiny_causal.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        first = train_bbt(tiny_causal, toy_prompt, toy_train, toy_dev, FAST)
    finally:
        handle.remove()
    second = train_bbt(tiny_causal, toy_prompt, toy_train, toy_dev, FAST)
    assert torch.equal(first.embeddings, second.embeddings)
    assert first.step_losses == second.step_losses and len(first.step_losses) == 4
    # A generation (5 candidates x 12 examples = 60 rows) is scored in one forward pass.
    assert max(batch_rows) == FAST.population * len(toy_train)
    assert batch_rows.count(60) == FAST.iterations
    initial_loss = first.history[0][1]
    assert min(first.step_losses) < initial_loss  # CMA-ES found a better prompt on train
    assert first.dev_accuracy >= first.initial_dev_accuracy
    assert first.method == "bbt" and first.embeddings.shape == (3, 32)
    other = train_bbt(tiny_causal, toy_prompt, toy_train, toy_dev, BBTConfig(**{**FAST.to_dict(), "seed": 1}))
    assert other.step_losses != first.step_losses


def test_small_batches_give_the_same_fitness(
    tiny_causal_absolute: LoadedModel, toy_prompt: Prompt, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    big = train_bbt(tiny_causal_absolute, toy_prompt, toy_train, toy_dev, FAST)
    small = train_bbt(
        tiny_causal_absolute, toy_prompt, toy_train, toy_dev, BBTConfig(**{**FAST.to_dict(), "batch_size": 7})
    )
    assert all(math.isclose(a, b, abs_tol=1e-4) for a, b in zip(big.step_losses, small.step_losses))


def test_report_stops(
    tiny_causal: LoadedModel, toy_prompt: Prompt, toy_train: list[Example], toy_dev: list[Example]
) -> None:
    result = train_bbt(tiny_causal, toy_prompt, toy_train, toy_dev, FAST, report=lambda step, acc: step >= 1)
    assert [h[0] for h in result.history] == [0, 1]


def test_projection_scale() -> None:
    A = projection(4000, 50, embedding_std=0.5, sigma=2.0, seed=3)
    assert torch.equal(A, projection(4000, 50, 0.5, 2.0, seed=3))
    z = torch.randn(50, 200, generator=torch.Generator().manual_seed(0)) * 2.0
    assert float((A @ z).std()) == pytest.approx(0.5, rel=0.05)

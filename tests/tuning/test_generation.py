"""Tuning generation prompts: LM loss on the answer tokens only, learning, early stopping on the
dev metric, tuned backends that generate batch-independently, and export round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from promptsearch.backends import GenerationRequest, GenerationSettings, hf_backend
from promptsearch.exceptions import ConfigError
from promptsearch.models import LoadedModel
from promptsearch.scoring import predict
from promptsearch.tasks import Example, Task
from promptsearch.templates import Prompt
from promptsearch.tuning import (
    FinetuneConfig,
    SoftPromptConfig,
    SoftPromptScorer,
    finetune,
    train_bbt,
    train_soft_prompt,
    tuners,
)
from promptsearch.tuning._generation import IGNORE, GenerationObjective, answer_rows, lm_batch, lm_loss

TEMPLATE = "Question: {text}\nAnswer:"


@pytest.fixture(scope="module")
def four(toy_generation_task: Task) -> list[Example]:
    """Four questions, used as train and dev: a set a tiny model can learn by heart."""
    return list(toy_generation_task.examples[:4])


@pytest.fixture(scope="module")
def prompt(toy_generation_task: Task) -> Prompt:
    return Prompt.for_task(toy_generation_task, TEMPLATE)


def _texts(backend: Any, prompt: Prompt, task: Task, examples: list[Example]) -> list[str]:
    settings = GenerationSettings(max_new_tokens=6, stop=("\n",))
    return [
        str(t) for t in predict(backend, prompt, task, examples, generation=settings).predictions.predicted
    ]


@pytest.mark.parametrize("n_soft", [0, 3])
def test_only_the_answer_tokens_carry_loss(tiny_causal: LoadedModel, n_soft: int) -> None:
    tok = tiny_causal.tokenizer
    contexts = ["Question: What is the capital of France?\nAnswer:", "Capital of Peru, please:\n"]
    rows = answer_rows(tok, contexts, ["Paris", "Lima"], stop=["\n"], n_soft=n_soft)
    batch = lm_batch(rows, pad_id=tok.pad_token_id)
    width = batch.ids.shape[1]
    for k, (row, expected) in enumerate(zip(rows, [" Paris\n", "Lima\n"])):
        labels = batch.labels[k]
        assert labels[: width - row.n_answer].eq(IGNORE).all()  # padding, soft tokens, prompt
        answer = labels[width - row.n_answer :]
        assert answer.ne(IGNORE).all() and tok.decode(answer.tolist()) == expected
        real = batch.ids[k, width - len(row.ids) :].tolist()
        assert real[:n_soft] == [-1 - i for i in range(n_soft)] and min(real[n_soft:]) >= 0
        assert tok.decode(real[n_soft:]).endswith(contexts[k] + expected)
    assert batch.mask.sum(1).tolist() == [len(r.ids) for r in rows]
    if n_soft == 0:  # the same number as transformers' own loss on these labels
        ours = lm_loss(tiny_causal.model, batch, torch.zeros(0, 32))
        theirs = tiny_causal.model(
            input_ids=batch.ids, attention_mask=batch.mask, position_ids=batch.positions, labels=batch.labels
        ).loss
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_training_rows_are_the_prompt_the_backend_generates_after(
    tiny_causal: LoadedModel, prompt: Prompt, four: list[Example]
) -> None:
    from promptsearch.backends._hf_generate import prompt_ids
    from promptsearch.tuning._generation import text_target

    scorer = SoftPromptScorer(tiny_causal, torch.zeros(0, 32))
    objective = GenerationObjective(scorer, prompt, four, four, text_target(prompt, four, four))
    batch = objective.labels([0, 1])
    settings = GenerationSettings(max_new_tokens=4)
    requests = [GenerationRequest(i.context, i.prefix) for i in prompt.instances(four[:2])]
    for k, ids in enumerate(prompt_ids(hf_backend(tiny_causal), requests, settings)):
        row = [int(t) for t, m in zip(batch.ids[k], batch.mask[k]) if m]
        answer = int(batch.labels[k].ne(IGNORE).sum())
        assert row[: len(row) - answer] == ids


@pytest.mark.parametrize("mode", ["prompt_tuning", "lora"])
def test_a_few_steps_learn_a_tiny_generation_set(
    mode: str, tiny_causal: LoadedModel, prompt: Prompt, four: list[Example], toy_generation_task: Task
) -> None:
    task = toy_generation_task
    seen: list[tuple[int, float]] = []

    def report(step: int, value: float) -> bool:
        seen.append((step, value))
        return False

    config: Any
    if mode == "prompt_tuning":
        config = SoftPromptConfig(n_tokens=4, steps=12, lr=0.3, batch_size=4, eval_every=6, patience=0)
    else:
        config = FinetuneConfig(rank=4, alpha=8, lr=3e-2, epochs=12, batch_size=4)
    result = tuners.get(mode)(tiny_causal, prompt, four, four, config, report=report, task=task)
    assert result.metric == "exact_match"
    assert result.step_losses[-1] < 0.8 * result.step_losses[0]  # the LM loss of the answers falls
    assert seen == [(h[0], h[2]) for h in result.history]  # report got the dev exact match
    if mode == "lora":  # and the adapters learn the answers by heart
        assert result.initial_dev_accuracy == 0.0 and result.dev_accuracy >= 0.5
    tuned = result.backend(tiny_causal, batch_size=4)
    texts = _texts(tuned, prompt, task, four)
    settings = GenerationSettings(max_new_tokens=32, stop=("\n", "\n\n"))  # the defaults training used
    out = predict(tuned, prompt, task, four, generation=settings)
    from promptsearch.metrics import get_metric

    assert get_metric("exact_match").aggregate(out.predictions) == result.dev_accuracy  # the kept weights
    assert texts == _texts(result.backend(tiny_causal, batch_size=1), prompt, task, four)


def test_early_stopping_keeps_the_best_dev_step(
    tiny_causal: LoadedModel, prompt: Prompt, four: list[Example], monkeypatch: pytest.MonkeyPatch
) -> None:
    values = iter([0.0, 0.5, 0.25, 0.5, 0.75])
    kept: list[torch.Tensor] = []

    def scripted(self: GenerationObjective) -> tuple[float, float]:
        kept.append(self.scorer.embeddings.detach().clone())
        return next(values), 1.0

    monkeypatch.setattr(GenerationObjective, "evaluate", scripted)
    config = SoftPromptConfig(n_tokens=2, steps=10, lr=0.1, batch_size=2, eval_every=1, patience=2)
    result = train_soft_prompt(tiny_causal, prompt, four, four, config)
    assert [h[0] for h in result.history] == [0, 1, 2, 3]  # two evaluations without a better one
    assert [h[2] for h in result.history] == [0.0, 0.5, 0.25, 0.5]  # a tie is not better (same loss)
    assert result.best_step == 1 and result.dev_accuracy == 0.5
    assert torch.equal(result.embeddings, kept[1])
    values = iter([0.0, 0.5, 0.25])
    stopped = finetune(
        tiny_causal, prompt, four, four, FinetuneConfig(rank=2, lr=1e-2, epochs=2, batch_size=4)
    )
    assert stopped.best_step == 1 and stopped.dev_accuracy == 0.5 and len(stopped.history) == 3


@pytest.mark.parametrize("placement", ["prefix", "slot"])
def test_soft_prompt_backend_generates_the_same_at_batch_size_1_and_4(
    tiny_causal: LoadedModel, toy_generation_task: Task, placement: str
) -> None:
    task = toy_generation_task
    template = TEMPLATE if placement == "prefix" else "Question: {text}{soft:3}\nAnswer:"
    prompt = Prompt.for_task(task, template, demonstrations=task.examples[10:12])
    examples = list(task.examples[:9])
    soft = torch.randn(3, 32, generator=torch.Generator().manual_seed(0)) * 0.5
    one = _texts(
        SoftPromptScorer(tiny_causal, soft, placement=placement, batch_size=1), prompt, task, examples
    )
    four = _texts(
        SoftPromptScorer(tiny_causal, soft, placement=placement, batch_size=4), prompt, task, examples
    )
    assert one == four and len(set(one)) > 1
    if placement == "prefix":  # the soft tokens change the texts; none at all is the plain backend
        plain = _texts(hf_backend(tiny_causal, batch_size=4), prompt, task, examples)
        assert plain != one
        assert plain == _texts(
            SoftPromptScorer(tiny_causal, torch.zeros(0, 32), batch_size=3), prompt, task, examples
        )


@pytest.mark.parametrize("mode", ["prompt_tuning", "lora", "full"])
def test_export_reload_predicts_the_same_texts(
    mode: str,
    tiny_causal: LoadedModel,
    prompt: Prompt,
    four: list[Example],
    toy_generation_task: Task,
    tmp_path: Path,
) -> None:
    from promptsearch.export import load_prompt, save_prompt
    from tests._tiny import save_loaded

    task = toy_generation_task
    config: Any = (
        SoftPromptConfig(n_tokens=3, steps=2, lr=0.3, batch_size=4, eval_every=1, patience=0)
        if mode == "prompt_tuning"
        else FinetuneConfig(
            mode=mode, rank=4, alpha=8, lr=3e-2 if mode == "lora" else 1e-3, epochs=2, batch_size=4
        )
    )
    result = tuners.get(mode)(tiny_causal, prompt, four, four, config, task=task)
    settings = GenerationSettings(max_new_tokens=6, stop=("\n",))
    model_dir = save_loaded(tiny_causal, tmp_path / "model")
    folder = save_prompt(
        tmp_path / "e", prompt, model=str(model_dir), task=task, tuning=result, generation=settings
    )
    predictor = load_prompt(folder, model=tiny_causal)
    questions = [e.inputs["text"] for e in task.examples[4:12]]
    examples = [Example.create({"text": q}) for q in questions]
    direct = predict(result.backend(tiny_causal), prompt, task, examples, generation=settings)
    assert predictor.predict(questions) == list(direct.predictions.predicted)


def test_what_cannot_be_tuned_is_a_clear_error(
    tiny_causal: LoadedModel,
    tiny_masked: LoadedModel,
    prompt: Prompt,
    four: list[Example],
    toy_choice_task: Task,
) -> None:
    with pytest.raises(ConfigError, match="generation prompts with prompt_tuning or lora"):
        train_bbt(tiny_causal, prompt, four, four)
    choices = list(toy_choice_task.examples[:4])
    mc = Prompt.for_task(toy_choice_task, "{text} is{label}")
    with pytest.raises(ConfigError, match=r"multiple-choice prompt.*cannot be tuned yet"):
        train_soft_prompt(tiny_causal, mc, choices, choices, SoftPromptConfig(n_tokens=2, steps=1))
    with pytest.raises(ConfigError, match="masked LM, which cannot generate"):
        train_soft_prompt(tiny_masked, prompt, four, four, SoftPromptConfig(n_tokens=2, steps=1))
    with pytest.raises(ConfigError, match="'accuracy' reads"):
        train_soft_prompt(
            tiny_causal, prompt, four, four, SoftPromptConfig(n_tokens=2, steps=1), metric="accuracy"
        )

"""The short-row attention gives the model's own outputs and runs only where it is faster."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from promptsearch.backends import hf_backend
from promptsearch.backends._hf_kernels import (
    _MAX_CELLS,
    _grouped_attention,
    _short_rows_attention,
    short_attention,
    short_attention_supported,
)
from promptsearch.templates import Prompt
from tests import _tiny
from tests.backends.test_hf import LABELS, TEXTS


def _requests() -> list[Any]:
    plain = Prompt.create("Review: {text}\nSentiment:{label}", "negative,positive", LABELS)
    demos = Prompt.create(
        "{text} It was{label}", "bad|terrible,good|great", LABELS, instruction="Classify the review."
    )
    return [p.instance({"text": t}) for p in (plain, demos) for t in TEXTS]


def test_fast_kernels_give_the_models_own_scores_and_skip_sdpa(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole path in float32 (which keeps SDPA by default), so that scores compare exactly."""
    from promptsearch.backends import _hf_kernels

    monkeypatch.setattr(_hf_kernels, "_DTYPES", ("float32",))
    lm = _tiny.tiny_causal(seed=3)
    requests = _requests()
    want = hf_backend(lm, batch_size=5, fast_kernels=False).loglikelihood(requests)
    fast = hf_backend(lm, batch_size=5)
    assert short_attention_supported(lm.model)

    def no_sdpa(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("SDPA ran on short rows")

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", no_sdpa)
    got = fast.loglikelihood(requests)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5)
    assert lm.model.config._attn_implementation == "sdpa"  # restored after each call


def test_bfloat16_scores_stay_within_rounding_of_the_plain_path(monkeypatch: pytest.MonkeyPatch) -> None:
    lm = _tiny.tiny_causal(seed=6)
    lm.model.to(torch.bfloat16)
    requests = _requests()
    want = hf_backend(lm, batch_size=4, fast_kernels=False).loglikelihood(requests)
    fast = hf_backend(lm, batch_size=4)
    calls: list[int] = []
    real = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    got = fast.loglikelihood(requests)
    assert not calls  # every row was short: the grouped matmul ran
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=0.05 * (1 + np.abs(w).max()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float"])
def test_short_rows_attention_matches_sdpa(dtype: torch.dtype, mask_kind: str) -> None:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    gen = torch.Generator().manual_seed(0)
    b, h, kv, q_len, k_len, d = 3, 6, 2, 5, 7, 16  # two cached keys before the 5 new rows
    query, key, value = (
        torch.randn(b, n, t, d, generator=gen).to(dtype) for n, t in ((h, q_len), (kv, k_len), (kv, k_len))
    )
    causal = torch.ones(q_len, k_len, dtype=torch.bool).tril(k_len - q_len)
    bool_mask = causal.expand(b, 1, q_len, k_len).clone()
    bool_mask[0, :, :, :3] = False  # the first row is left-padded: its first query row sees nothing
    mask = {
        "none": None,
        "bool": bool_mask,
        "float": torch.zeros(b, 1, q_len, k_len).masked_fill(~bool_mask, -1e9),
    }[mask_kind]
    module = torch.nn.Module()
    module.is_causal, module.num_key_value_groups = True, h // kv  # type: ignore[assignment]
    with torch.inference_mode():
        got = _grouped_attention(query, key, value, mask, None)
        want, _ = sdpa_attention_forward(module, query, key, value, mask if mask is not None else causal)
    assert got.shape == (b, q_len, h, d) and torch.isfinite(got).all()
    rows = slice(None) if mask_kind == "none" else (slice(None), slice(1, None))  # row 0's padding: unused
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(got[rows].float(), want[rows].float(), atol=tol, rtol=tol)


def test_long_rows_float32_and_gradients_go_to_sdpa(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = torch.nn.functional.scaled_dot_product_attention

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counting)
    module = torch.nn.Module()
    module.is_causal, module.num_key_value_groups = True, 1  # type: ignore[assignment]
    short = torch.randn(1, 1, 4, 8).bfloat16()
    with torch.inference_mode():
        _short_rows_attention(module, short, short, short, None)
        assert calls == []  # short rows in bfloat16: the grouped matmul
        long = torch.randn(1, 1, int(_MAX_CELLS**0.5) + 1, 8).bfloat16()
        _short_rows_attention(module, long, long, long, None)
        assert calls == [1]  # beyond the measured break-even: SDPA
        _short_rows_attention(module, short.float(), short.float(), short.float(), None)
        assert calls == [1, 1]  # float32: SDPA
        module.is_causal = False  # type: ignore[assignment]
        _short_rows_attention(module, short, short, short, None)
        assert calls == [1, 1, 1]  # not causal and no mask: SDPA
        module.is_causal = True  # type: ignore[assignment]
    trained = torch.randn(1, 1, 4, 8, dtype=torch.bfloat16, requires_grad=True)
    _short_rows_attention(module, trained, trained, trained, None)[0].float().sum().backward()
    assert calls == [1, 1, 1, 1] and trained.grad is not None  # training: SDPA


def test_short_attention_leaves_other_models_alone() -> None:
    lm = _tiny.tiny_causal(seed=5)
    assert not short_attention_supported(lm.model)  # float32
    lm.model.to(torch.bfloat16)
    assert short_attention_supported(lm.model)
    lm.model.config._attn_implementation = "flex_attention"  # not one this path replaces
    assert not short_attention_supported(lm.model)
    with short_attention(lm.model):
        assert lm.model.config._attn_implementation == "flex_attention"

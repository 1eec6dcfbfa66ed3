"""The catalog sentence encoder (all-MiniLM-L6-v2, fetched once from its pinned wheel)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_minilm_puts_paraphrases_closest() -> None:
    from promptsearch.demonstrations import load_embedder

    embed = load_embedder("all-minilm-l6-v2")
    assert embed is not None
    vectors = embed(
        [
            "Shares fell sharply on the stock market.",
            "The stock market dropped today.",
            "A wonderful, moving film.",
            "One of the best movies of the year.",
        ]
    )
    assert vectors.shape == (4, 384)
    sims = vectors @ vectors.T
    assert sims[0, 1] > max(sims[0, 2], sims[0, 3]) + 0.2
    assert sims[2, 3] > max(sims[2, 0], sims[2, 1]) + 0.2
    np.testing.assert_allclose(np.diag(sims), 1.0, atol=1e-5)

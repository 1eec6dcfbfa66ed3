"""The in-process ``vllm`` backend, where vLLM imports (CI runs this file in its vLLM environment:
``.ci/vllm.sh test``). Set ``PROMPTSEARCH_TEST_SERVER_FOLDER`` to a causal model's folder (CI:
the converted SmolLM2-135M-Instruct). ``PROMPTSEARCH_REQUIRE_VLLM=1`` turns the skip into a
failure.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from promptsearch.backends import GenerationRequest, GenerationSettings, LMBackend, load_backend
from tests.backends.conformance import QUESTIONS, check_backend, scoring_requests

FOLDER = os.environ.get("PROMPTSEARCH_TEST_SERVER_FOLDER")
HAVE_VLLM = importlib.util.find_spec("vllm") is not None
REASON = (
    "vLLM is not installed here, or PROMPTSEARCH_TEST_SERVER_FOLDER is not set (.ci/vllm.sh test runs this)"
)

if not (HAVE_VLLM and FOLDER):
    if os.environ.get("PROMPTSEARCH_REQUIRE_VLLM") == "1":
        raise RuntimeError(f"PROMPTSEARCH_REQUIRE_VLLM=1 but {REASON}")
    pytestmark = pytest.mark.skip(reason=REASON)


@pytest.fixture(scope="module")
def engine() -> LMBackend:
    return load_backend("vllm", FOLDER, dtype="float32", enforce_eager=True)


def test_vllm_in_process_passes_the_conformance_suite(engine: LMBackend) -> None:
    check_backend(engine)


def test_vllm_in_process_agrees_with_transformers(engine: LMBackend) -> None:
    local = load_backend("hf", FOLDER, dtype="float32", device="cpu")
    requests = scoring_requests()
    worst = float(
        np.max(
            np.abs(
                np.concatenate(engine.loglikelihood(requests)) - np.concatenate(local.loglikelihood(requests))
            )
        )
    )
    assert worst <= 1e-3, f"max |log-prob difference| = {worst:.2e}"
    settings = GenerationSettings(max_new_tokens=12, stop=("\n",))
    prompts = [GenerationRequest(q) for q in QUESTIONS]
    assert engine.generate(prompts, settings) == local.generate(prompts, settings)

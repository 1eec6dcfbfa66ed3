"""The ``openai`` backend against a real vLLM server (started by ``.ci/run``; see ``.ci/vllm.sh``).

Set ``PROMPTSEARCH_TEST_SERVER`` (the API root, ``http://127.0.0.1:PORT/v1``),
``PROMPTSEARCH_TEST_SERVER_MODEL`` (its served name) and ``PROMPTSEARCH_TEST_SERVER_FOLDER``
(the model folder it serves, for the comparison with the ``hf`` backend). Without them these
tests skip with that reason on a developer's machine; CI sets ``PROMPTSEARCH_REQUIRE_SERVER=1``,
which turns the skip into a failure, so a CI run never passes without them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from promptsearch.backends import (
    GenerationRequest,
    GenerationSettings,
    LMBackend,
    load_backend,
)
from tests.backends.conformance import QUESTIONS, check_backend, scoring_requests

URL = os.environ.get("PROMPTSEARCH_TEST_SERVER")
MODEL = os.environ.get("PROMPTSEARCH_TEST_SERVER_MODEL", "smollm2")
FOLDER = os.environ.get("PROMPTSEARCH_TEST_SERVER_FOLDER")
REASON = "no vLLM server: set PROMPTSEARCH_TEST_SERVER (.ci/run starts one with .ci/vllm.sh)"

if not URL:
    if os.environ.get("PROMPTSEARCH_REQUIRE_SERVER") == "1":
        raise RuntimeError(f"PROMPTSEARCH_REQUIRE_SERVER=1 but {REASON}")
    pytestmark = pytest.mark.skip(reason=REASON)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served() -> LMBackend:
    assert URL is not None
    return load_backend("openai", MODEL, base_url=URL)


@pytest.fixture(scope="module")
def local() -> LMBackend:
    if not FOLDER:
        pytest.fail("PROMPTSEARCH_TEST_SERVER_FOLDER must name the served model's folder")
    return load_backend("hf", FOLDER, dtype="float32", device="cpu")


def test_vllm_passes_the_conformance_suite(served: LMBackend) -> None:
    check_backend(served)


def test_vllm_log_probs_agree_with_transformers(served: LMBackend, local: LMBackend) -> None:
    requests = scoring_requests()
    a = np.concatenate(served.loglikelihood(requests))
    b = np.concatenate(local.loglikelihood(requests))
    worst = float(np.max(np.abs(a - b)))
    assert worst <= 1e-3, f"max |log-prob difference| = {worst:.2e}"


def test_vllm_greedy_generation_agrees_with_transformers(served: LMBackend, local: LMBackend) -> None:
    settings = GenerationSettings(max_new_tokens=12, stop=("\n",))
    prompts = [GenerationRequest(q) for q in QUESTIONS]
    assert served.generate(prompts, settings) == local.generate(prompts, settings)


def test_a_search_through_vllm_and_three_workers_sharing_it(tmp_path: Path) -> None:
    """One search end to end through the server, then the same with 3 local workers on one study."""
    from tests.engine import workers as w

    assert URL is not None
    space = w.write_inputs(tmp_path, trials=6)
    served = ["--backend", "openai", "--base-url", URL, "--model", MODEL]
    for n, out in ((1, tmp_path / "one"), (3, tmp_path / "three")):
        command = [*w.search_command(space, out, *served), "--workers", str(n)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-3000:]
        board = json.loads((out / "leaderboard.json").read_text())
        assert board["model"] == MODEL and board["n_trials"] == 6
        assert board["rows"] and all(r["test_n"] == 8 for r in board["rows"])

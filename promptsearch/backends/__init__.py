"""Language-model backends: the one protocol scorers, generators and the engine use.

A backend answers three kinds of requests: the log-likelihood of continuations, the
distribution of the next token (whole vocabulary or top-k), and batched generation. It is
registered by name (:data:`backends`) and chosen with ``backend:`` in a search space or
``--backend`` on the command line.

Built in: ``hf`` (any ``transformers`` causal, masked or encoder-decoder model), ``openai``
(a model behind an OpenAI-compatible server such as vLLM), ``vllm`` (vLLM in this process, an
optional extra) and ``fake`` (a deterministic stand-in for tests and demos). Importing this
package does not import torch.

Example:
    >>> from promptsearch.backends import LoglikelihoodRequest, load_backend
    >>> lm = load_backend("fake", "demo", affinities={"great": {"good": 4.0}})
    >>> good, bad = lm.loglikelihood([LoglikelihoodRequest("A great film. It was", (" good", " bad"))])[0]
    >>> bool(good > bad)
    True
"""

from promptsearch.backends._base import (
    BackendLoader,
    BackendStats,
    Capabilities,
    GenerationRequest,
    GenerationSettings,
    LMBackend,
    LoglikelihoodRequest,
    ProgressCallback,
    TokenLogprobs,
    backends,
    length_batches,
    load_backend,
    register_backend,
)
from promptsearch.backends._fake import FakeBackend
from promptsearch.backends._hf import HFBackend
from promptsearch.backends._hf_load import hf_backend, load_hf
from promptsearch.backends._openai import OpenAIBackend
from promptsearch.backends._token_prompts import TokenPromptBackend
from promptsearch.backends._vllm import VLLMBackend

#: The backend of a search, an evaluation or an export that names none.
DEFAULT_BACKEND: str = HFBackend.registry_name

__all__ = [
    "DEFAULT_BACKEND",
    "BackendLoader",
    "BackendStats",
    "Capabilities",
    "FakeBackend",
    "GenerationRequest",
    "GenerationSettings",
    "HFBackend",
    "LMBackend",
    "LoglikelihoodRequest",
    "OpenAIBackend",
    "ProgressCallback",
    "TokenLogprobs",
    "TokenPromptBackend",
    "VLLMBackend",
    "backends",
    "hf_backend",
    "length_batches",
    "load_backend",
    "load_hf",
    "register_backend",
]
